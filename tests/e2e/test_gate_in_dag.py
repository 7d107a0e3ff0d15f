"""The gate inside ``dag.test()``: critical stops before merge, warnings let the run go on."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import table_fingerprints

BERLIN = ZoneInfo("Europe/Berlin")
D = date(2026, 11, 20)


def contact(i: int, **change) -> dict:
    return {
        "id": f"C{i}", "email": f"kunde{i}@example.de", "first_name": "Jörg",
        "last_name": "Weiß", "country": "DE", "postal_code": "01067",
        "email_consent": {"status": "confirmed", "confirmed_at": "2026-11-01T10:00:00Z"},
        "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-01T09:00:00Z", **change,
    }  # fmt: skip


def event(i: int, contact_id: str) -> dict:
    return {"id": f"E{i}", "contact_id": contact_id, "type": "page_view",
            "occurred_at": "2026-11-02T10:00:00Z"}  # fmt: skip


@pytest.fixture
def nightly(airflow_db, db, httpserver, monkeypatch):
    from journeyflow.local import airflow_home as airflow_env

    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_SOURCE",
        json.dumps({"conn_type": "http", "host": httpserver.url_for("")}),
    )
    dag = airflow_env.load_dag()
    for task in dag.tasks:
        task.retries = 0

    def serve(contacts: list[dict], events: list[dict]) -> None:
        httpserver.clear()
        httpserver.expect_request("/contacts").respond_with_json(
            {"data": contacts, "next_cursor": None}
        )
        httpserver.expect_request("/events").respond_with_json(
            {"data": events, "next_cursor": None}
        )

    def run(day: date) -> dict[str, str]:
        dag_run = dag.test(logical_date=datetime.combine(day, time(2), tzinfo=BERLIN))
        states = {
            ti.task_id: str(getattr(ti.state, "value", ti.state))
            for ti in dag_run.get_task_instances()
        }
        states["run"] = str(getattr(dag_run.state, "value", dag_run.state))
        return states

    return serve, run


def test_critical_failure_stops_before_merge_and_fails_the_run(nightly, db):
    serve, run = nightly
    serve([contact(i) for i in range(20)], [event(i, f"C{i}") for i in range(20)])
    assert run(D)["run"] == "success"
    with db.transaction() as conn:
        before = table_fingerprints(conn)
    # next night half of the addresses are broken: an export went wrong
    broken = [contact(i, email=f"kunde{i} at example.de", updated_at="2026-11-21T09:00:00Z")
              for i in range(10)]  # fmt: skip
    serve(broken + [contact(100 + i) for i in range(10)], [])
    states = run(date(2026, 11, 21))
    assert states["run"] == "failed"
    assert states["quality_gate_failed"] == "failed"
    assert states["merge"] == "skipped" and states["summarize"] == "skipped"
    with db.transaction() as conn:
        after = table_fingerprints(conn)
        verdict = conn.exec_driver_sql(
            "select verdict, unexpected_count from journeyflow.validation_results "
            "where run_date = '2026-11-21' and check_name = 'contacts_email_syntax'"
        ).one()
    assert after["contacts"] == before["contacts"] and after["events"] == before["events"]
    assert after["watermarks"] == before["watermarks"]
    assert tuple(verdict) == ("failed", 10)


def test_a_warning_lets_the_run_succeed_and_is_recorded(nightly, db):
    serve, run = nightly
    serve([contact(i) for i in range(20)] + [contact(99, country="Germany")], [])
    states = run(D)
    assert states["run"] == "success" and states["merge"] == "success"
    assert states["quality_gate_failed"] == "skipped"
    # everyone confirmed 19 days ago and never ordered: only the tripwire offer has an audience
    assert states["tripwire_offer.send"] == "success"
    for task in ("welcome_drip.send", "onboarding_tips.send", "upsell.send",
                 "win_back.export_postal"):  # fmt: skip
        assert states[task] == "skipped", task
    assert states["no_campaigns"] == "skipped"
    assert states["campaigns_done"] == "success" and states["summarize"] == "success"
    with db.transaction() as conn:
        verdict = conn.exec_driver_sql(
            "select verdict from journeyflow.validation_results "
            f"where run_date = '{D}' and check_name = 'contacts_country_iso'"
        ).scalar()
        assert conn.exec_driver_sql("select count(*) from journeyflow.contacts").scalar() == 21
    assert verdict == "warning"


def test_gx_failing_fails_the_gate_never_passes(nightly, db, monkeypatch):
    """Great Expectations that cannot run is an error of the gate task (so the run fails and
    nothing after the gate runs), never a pass. Tested on the gate's step: a branch task that
    raises inside ``dag.test()`` is Airflow's own path, and the DAG's wiring is checked below."""
    from journeyflow import ingest
    from journeyflow.local import airflow_home as airflow_env
    from journeyflow.quality import gate

    serve, _ = nightly
    serve([contact(i) for i in range(5)], [])
    ingest.extract("contacts", D)
    ingest.extract("events", D)
    ingest.load(D)
    monkeypatch.setattr(
        gate, "gx_connection_string", lambda url: "postgresql+psycopg2://nobody@127.0.0.1:9/x"
    )
    with pytest.raises(Exception, match="Great Expectations could not validate"):
        gate.validate(D)
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.contacts").scalar() == 0
        passed = conn.exec_driver_sql(
            f"select count(*) from journeyflow.validation_results where run_date = '{D}' "
            "and verdict = 'passed'"
        ).scalar()
    assert passed == 0
    # a failed gate task: everything after it needs its success
    dag = airflow_env.load_dag()
    assert dag.get_task("merge").upstream_task_ids == {"quality_gate"}
    assert dag.get_task("merge").trigger_rule == "all_success"
