"""
### journeyflow_nightly

Every night at 02:00 Europe/Berlin this DAG processes logical date **D** (the day that just ended):
it pulls contacts and events from the shop/CRM (`journeyflow_source`), stages them in the warehouse
(`journeyflow_db`) and merges them into the core tables. All rules see the world as of the cut-off
T = start of D+1; re-running D changes nothing.

**Main flow:** `check_connections` → `migrate` → `extract_contacts` / `extract_events` → `load`
→ `quality_gate` → `merge` → `score` → `assign_phases` → `report` → `decide_campaigns` (every
candidate gets a decision; queued emails are rendered into the outbox) → `choose_campaigns` → one
task group per campaign with messages waiting (`<campaign>.send`, `win_back.export_postal`; the
others show as skipped) → `campaigns_done` → `measure_results` (purchases within the attribution
window of every run date still open, for test and learn) → `summarize` → `needs_attention`
(fails, with the next step, when messages or mailings are left in doubt: the run ends red
although all else worked).
When a critical check fails: `quality_gate` → `quality_gate_failed`, and nothing after it runs.

Alerts: a task that fails for good sends an alert (email to `alerts.to`, and the
`journeyflow_alerts` webhook) naming the task, the error and the next step from the list below.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import CronDataIntervalTimetable, Label, chain, dag, task
from airflow.sdk.exceptions import AirflowFailException

from journeyflow import triage
from journeyflow.tasks import (
    alert_failed_run,
    apply_timeouts,
    campaign_groups,
    default_args,
    on_run_failure,
    run_date,
    step_of_run,
)

TAGS = ["journeyflow", "lifecycle-marketing", "nightly"]


@dag(
    dag_id="journeyflow_nightly",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="Europe/Berlin"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=TAGS,
    doc_md=f"{__doc__}\n{triage.markdown()}",
    default_args=default_args(),
    on_failure_callback=on_run_failure,
)
def journeyflow_nightly():
    @task
    def check_connections() -> list[str]:
        from journeyflow import preflight

        return preflight.check_run()

    @task
    def migrate() -> list[str]:
        from airflow.sdk import get_current_context

        from journeyflow import migrate, runlog

        with step_of_run() as d:
            applied = migrate.migrate()
            runlog.start_run(d, get_current_context()["run_id"])
        return applied

    @task
    def extract_contacts() -> dict:
        from journeyflow import ingest

        with step_of_run() as d:
            return ingest.extract("contacts", d).as_dict()

    @task
    def extract_events() -> dict:
        from journeyflow import ingest

        with step_of_run() as d:
            return ingest.extract("events", d).as_dict()

    @task
    def load() -> dict:
        from journeyflow import ingest

        with step_of_run() as d:
            return ingest.load(d).as_dict()

    @task.branch
    def quality_gate() -> str:
        from journeyflow.quality import gate

        with step_of_run() as d:
            return "merge" if gate.validate(d).passed else "quality_gate_failed"

    @task
    def quality_gate_failed() -> None:
        from journeyflow.quality import gate

        verdict = gate.latest(run_date())
        raise AirflowFailException(f"{verdict.message()} (Data Docs: {verdict.docs})")

    @task
    def merge() -> dict:
        from journeyflow import ingest

        with step_of_run() as d:
            return ingest.merge(d).as_dict()

    @task
    def score() -> dict:
        from journeyflow import lifecycle

        with step_of_run() as d:
            return lifecycle.score(d).as_dict()

    @task
    def assign_phases() -> dict:
        from journeyflow import lifecycle

        with step_of_run() as d:
            return lifecycle.assign_phases(d).as_dict()

    @task
    def report() -> dict:
        from journeyflow import lifecycle

        with step_of_run() as d:
            return lifecycle.report(d).as_dict()

    @task
    def decide_campaigns() -> dict:
        from journeyflow import campaigns

        with step_of_run() as d:
            return campaigns.decide(d).as_dict()

    @task.branch
    def choose_campaigns() -> list[str]:
        from journeyflow import campaigns

        return campaigns.choose(run_date())

    @task
    def measure_results() -> dict:
        from journeyflow.learn import results

        with step_of_run() as d:
            return results.fill(d).as_dict()

    def tell_people(d, done: dict) -> None:
        """The morning summary, and an alert for warnings a person should look at (a failure
        alerts through the DAG's failure callback)."""
        from journeyflow.email.transport import scrub
        from journeyflow.notify import alerts, morning

        warnings = alerts.step_warnings(done["steps"])
        try:
            morning.send_summary(d, done)
        except Exception as exc:  # the night's work stands; a person hears of it
            warnings.append(f"the morning summary could not be sent: {scrub(str(exc))}")
        if warnings:
            alerts.send(alerts.for_warnings(d, warnings))

    @task
    def summarize() -> dict:
        from journeyflow import runlog, summary

        d = run_date()
        lines = summary.attention()
        runlog.finish_run(d, "warning" if lines else "success", "; ".join(lines) or None)
        done = summary.summary(d, totals=False)  # the warehouse's size counts every event
        tell_people(d, done)
        return done

    @task(retries=0, on_failure_callback=[alert_failed_run])  # its lines are the run's message
    def needs_attention() -> None:
        from journeyflow import summary

        lines = summary.attention()
        if lines:
            raise AirflowFailException("needs a person: " + " | ".join(lines))

    # main flow: in, checked, merged, placed on the journey, then the campaigns with work
    gate = quality_gate()
    chain(check_connections(), migrate(), [extract_contacts(), extract_events()], load(), gate)
    gate >> Label("critical check failed") >> quality_gate_failed()
    chooser = choose_campaigns()
    merged = gate >> Label("passed") >> merge()
    chain(merged, score(), assign_phases(), report(), decide_campaigns(), chooser)
    done = EmptyOperator(task_id="campaigns_done", trigger_rule="none_failed_min_one_success")
    chooser >> [*campaign_groups(), EmptyOperator(task_id="no_campaigns")] >> done
    chain(done, measure_results(), summarize(), needs_attention())


dag = apply_timeouts(journeyflow_nightly())
