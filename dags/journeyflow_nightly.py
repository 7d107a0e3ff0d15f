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

#### Triage for the person on call
- **check_connections failed "connection ... is not defined"**: a connection is missing; the
  message names it and shows how to set it. Nothing was changed. Add it, then clear the task.
- **check_connections failed "the unsubscribe links would point at ..."**: set the host of
  `journeyflow_unsubscribe` to the public https URL of the unsubscribe endpoint.
- **any task failed "another run is working"**: a second run (the CLI, a manual run) held the
  run lock longer than `run.lock_wait_minutes`; nothing was changed. Clear the task when it ends.
- **a task failed with a timeout**: it ran longer than `run.task_timeout_minutes` (or its
  `run.task_timeouts` entry). Every step is a transaction or idempotent: clear it.
- **extract_* failed with HTTP 401/403**: the bearer token (password of `journeyflow_source`) is
  wrong or expired. Fix the connection, then *Clear* the failed task.
- **extract_* failed after retries (429/5xx/timeouts)**: the source is down or throttling. Nothing
  was committed for that stream; clearing the task later is safe.
- **load failed "staging holds no extract"**: clear the extract tasks of the same run.
- **migrate failed "text has changed"**: somebody edited an applied file in `sql/schema/`; restore
  it and put the change in a new file.
- **quality_gate_failed**: a critical data quality check failed; the message names the check,
  the column and the number of bad rows, and the warehouse was not changed. Look at the Data Docs
  (`$JOURNEYFLOW_HOME/data_docs/<date>/index.html`) and `journeyflow.validation_results`, fix the
  source (or, if the data is right and the rule is wrong, the check in `journeyflow.yaml`), then
  clear `extract_*` of this run.
- **quality_gate failed with "Great Expectations could not validate"**: GX itself broke (database
  unreachable, ...). Nothing was merged; fix the cause and clear the task.
- **assign_phases failed naming `sql/phases/<file>`**: a phase file is broken; run
  `journeyflow phases check` locally, fix the file, clear the task.
- **decide_campaigns failed naming `sql/campaigns/<file>` or `email_templates/...`**: an audience
  query or a template is broken; run `journeyflow plan` / `journeyflow templates check` locally,
  fix it, clear the task. Nothing was queued (decisions and outbox are one transaction).
- **`<campaign>.send` failed "SMTP ... unreachable"**: the mail server (`journeyflow_smtp`) is
  down; every unsent message is still queued. Clear the task when the server is back; nothing is
  sent twice.
- **`<campaign>.send` failed "refused 3 messages in a row" or "refuses to send for us"**: the
  mail server refuses relaying, a quota is used up, or the sender address or login is wrong.
  Nobody was suppressed and the messages are still queued; fix it or wait, then clear the task.
- **needs_attention failed / messages "in doubt"**: a sender died between the server's
  acceptance and recording it. Look the Message-ID up in the mail server log, then
  `journeyflow outbox --date D --id N --resolve sent` (or `--resolve resend`). The message of
  `needs_attention` lists each case with its command.
- **`win_back.export_postal` failed delivering** (drop or SFTP down): the mailing is built and
  recorded; clear the task later, or let the next night's export deliver it. The same bytes go
  out, once.
- **`win_back.export_postal` failed "IN DOUBT"/"stopped while putting the .done marker"**: ask the
  print vendor whether they have the set, then `journeyflow postal --date D --campaign win_back
  --resolve delivered` (or `--resolve resend`). `journeyflow postal` lists every mailing.
- **Warning "below the minimum"** in `export_postal`: the mailing went out with fewer pieces than
  `postal.min_pieces`; check the vendor's rate.
- Malformed source records never fail the run: they are in `journeyflow.quarantine` with a reason.
- Re-running a date is always safe: staging is rebuilt, merges are upserts, watermarks only move
  forward after a committed merge.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import CronDataIntervalTimetable, Label, chain, dag, task
from airflow.sdk.exceptions import AirflowFailException

from journeyflow.tasks import (
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
    doc_md=__doc__,
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

    @task
    def summarize() -> dict:
        from journeyflow import runlog, summary

        d = run_date()
        lines = summary.attention()
        runlog.finish_run(d, "warning" if lines else "success", "; ".join(lines) or None)
        return summary.summary(d)

    @task(retries=0, on_failure_callback=[])
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
