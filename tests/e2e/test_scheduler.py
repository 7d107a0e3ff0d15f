"""The DAG under a real Airflow: api-server, scheduler and dag-processor as processes, metadata
on PostgreSQL, LocalExecutor, every connection set (production mode). This catches what
``dag.test()`` hides: serialization, task isolation, task logs, the schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from journeyflow.local.stack import AirflowStack, free_port, wait_for
from tests.conftest import fresh_database, warehouse_connection
from tests.smtp_sink import Sink, smtp_connection

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
D = date(2026, 11, 20)
PUBLIC = "https://marketing.shop.example/journeyflow/u/"


@pytest.fixture(scope="module")
def deployment(warehouse_url, tmp_path_factory):
    """The stack, an SMTP sink and the demo shop (as the real source), for the whole module."""
    from journeyflow import migrate
    from journeyflow.config import load_config
    from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

    root = tmp_path_factory.mktemp("airflow")
    meta = fresh_database(warehouse_url, "airflow_meta")
    migrate.migrate()

    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    shop = DemoSourceServer(
        DemoDataset(400, anchor=D, seed=11), clock=load_config().cutoff(D).timestamp(),
        token="shop-token",
    )  # fmt: skip
    shop.start()
    conns = {
        "JOURNEYFLOW_DB": warehouse_connection(warehouse_url),
        "JOURNEYFLOW_SOURCE": {"conn_type": "http", "host": shop.url, "password": "shop-token"},
        "JOURNEYFLOW_POSTAL_DROP": {"conn_type": "fs", "extra": {"path": str(root / "drop")}},
        "JOURNEYFLOW_UNSUBSCRIBE": {"conn_type": "generic", "host": PUBLIC,
                                    "password": "k1:" + "u" * 32},
    }  # fmt: skip
    env = {f"AIRFLOW_CONN_{k}": json.dumps(v) for k, v in conns.items()}
    env["AIRFLOW_CONN_JOURNEYFLOW_SMTP"] = smtp_connection(smtp_port)
    env["JOURNEYFLOW_HOME"] = str(root / "jf-home")
    env["JOURNEYFLOW_MODE"] = ""
    stack = AirflowStack(root / "home", meta, env)
    try:
        stack.start()
        yield stack, sink
    finally:
        stack.stop()
        shop.stop()
        smtp.stop()


def clean_warehouse(db) -> None:
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "truncate journeyflow.contacts, journeyflow.events, journeyflow.watermarks, "
            "journeyflow.quarantine, journeyflow.outbox, journeyflow.campaign_decisions, "
            "journeyflow.decision_counts, "
            "journeyflow.suppressions, journeyflow.postal_exports, journeyflow.postal_rejects, "
            "journeyflow.pipeline_runs, journeyflow.pipeline_steps, journeyflow.contact_facts, "
            "journeyflow.phase_history, journeyflow.phase_runs, journeyflow.phase_counts"
        )


def task_log(stack: AirflowStack, run_id: str, task_id: str) -> str:
    (ti,) = [t for t in stack.task_instances(run_id) if t["task_id"] == task_id]
    path = f"/dags/journeyflow_nightly/dagRuns/{run_id}/taskInstances/{task_id}"
    path += f"/logs/{ti['try_number']}"
    content = stack.api("GET", path, params={"full_content": True})["content"]
    return json.dumps(content)


def test_a_demo_run_never_blocks_the_schedule(deployment, db, tmp_path):
    """``journeyflow demo`` for yesterday, on the same Airflow: the scheduler still creates its
    own run of the latest interval and runs it (a demo run used to take the schedule's logical
    date, and the scheduler then skipped it forever)."""
    stack, _ = deployment
    clean_warehouse(db)
    yesterday = datetime.now(BERLIN).date() - timedelta(days=1)
    env = {**stack.env, "JOURNEYFLOW_HOME": str(tmp_path / "demo-home")}
    env.pop("AIRFLOW_CONN_JOURNEYFLOW_SOURCE")
    demo = subprocess.run(
        [str(Path(sys.executable).parent / "journeyflow"), "demo", "--date", str(yesterday),
         "--contacts", "300"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "LOCAL MODE (demo)" in demo.stdout
    stack.unpause()

    def scheduled_run_done() -> dict | None:
        runs = [r for r in stack.runs() if r["run_type"] == "scheduled"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return done[0] if done else None

    run = wait_for("the scheduler to create and run its next run", scheduled_run_done, 900, 3)
    assert run["state"] == "success", stack.logs()
    assert "skipping dagrun creation" not in stack.logs()


def test_triggered_through_the_api_runs_to_success_and_a_clear_sends_nothing_twice(deployment, db):
    stack, sink = deployment
    stack.unpause()  # the scheduler makes its run of the last interval (if no test did before)

    def idle() -> bool:
        return not [r for r in stack.runs() if r["state"] in ("queued", "running")]

    wait_for("the scheduler's own runs to finish", idle, 900, 3)
    clean_warehouse(db)
    sink.messages.clear()
    run_id = stack.trigger(datetime.combine(D, time(2), tzinfo=BERLIN))
    assert stack.wait_for_run(run_id) == "success", stack.logs()
    sent = sorted(str(m["Message-ID"]) for m in sink.messages)
    assert sent and len(set(sent)) == len(sent)
    assert all(str(m["List-Unsubscribe"]).startswith(f"<{PUBLIC}") for m in sink.messages)

    # the task logs say what each task did, at INFO (counts and ids, no personal data)
    extract = task_log(stack, run_id, "extract_contacts")
    assert "extract_contacts for 2026-11-20" in extract and "records in" in extract
    assert "@" not in extract.replace("@%h", "")
    decide = task_log(stack, run_id, "decide_campaigns")
    assert "queued" in decide

    # cleared from the decisions on (what a person does after late data): sent once all the same
    stack.clear(run_id, from_task="decide_campaigns")
    wait_for("the cleared run to start again", lambda: stack.run_state(run_id) != "success", 60)
    assert stack.wait_for_run(run_id) == "success", stack.logs()
    assert sorted(str(m["Message-ID"]) for m in sink.messages) == sent


def test_the_ui_defaults_to_the_configured_timezone_and_the_unsubscribe_link_leads_somewhere(
    deployment,
):
    import requests

    stack, _ = deployment
    page = requests.get(f"{stack.url}/", timeout=10)
    assert page.ok and "localStorage.setItem('timezone'" in page.text
    assert 'Europe/Berlin\\"' in page.text  # stored as JSON, as the UI reads it
    # the link in every email points here: public, no Airflow login
    link = requests.get(f"{stack.url}/journeyflow/u/not-a-token", timeout=10)
    assert link.status_code == 400 and "Abmeldelink ist ungültig" in link.text
