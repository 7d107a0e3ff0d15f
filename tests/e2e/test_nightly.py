"""End to end: ``dag.test()`` on embedded PostgreSQL against the bundled demo shop."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import table_fingerprints

D = date(2026, 11, 20)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def nightly(airflow_db, db, monkeypatch):
    from journeyflow.local import airflow_home as airflow_env

    monkeypatch.setenv("JOURNEYFLOW_DEMO_CONTACTS", "800")
    dag = airflow_env.load_dag()
    for task in dag.tasks:  # fail fast here; production keeps its retries
        task.retries = 0

    def run(day: date) -> str:
        dag_run = dag.test(logical_date=datetime.combine(day, time(2), tzinfo=BERLIN))
        return str(getattr(dag_run.state, "value", dag_run.state))

    return run


def steps(conn, day: date) -> dict:
    rows = conn.exec_driver_sql(
        "select step, rows_in, rows_out, quarantined from journeyflow.pipeline_steps "
        f"where run_date = '{day}'"
    ).all()
    return {r.step: r for r in rows}


def test_rerun_changes_nothing_and_next_day_pulls_only_the_delta(nightly, db):
    from journeyflow.local.demo_source import dataset_for

    assert nightly(D) == "success"
    with db.transaction() as conn:
        first = table_fingerprints(conn)
        run1 = steps(conn, D)
    assert first["contacts"][0] > 700 and first["events"][0] > 5000
    assert first["quarantine"][0] > 0  # the demo shop ships a few broken records
    assert run1["extract_contacts"].rows_in > 700 and run1["extract_events"].rows_in > 5000

    assert nightly(D) == "success"
    with db.transaction() as conn:
        assert table_fingerprints(conn) == first
        status = conn.exec_driver_sql(
            f"select status, attempts from journeyflow.pipeline_runs where run_date = '{D}'"
        ).one()
    assert tuple(status) == ("success", 2)

    # D+1: the demo shop's clock moves a day; only what happened since the watermarks comes
    with db.transaction() as conn:
        marks = dict(conn.exec_driver_sql("select stream, value from journeyflow.watermarks").all())
    ds = dataset_for(D)
    clock = datetime.combine(D + timedelta(days=2), time(0), tzinfo=BERLIN).timestamp()
    expected_contacts = expected_events = 0
    for i in range(ds.size):
        tl = ds.timeline(i)
        if tl.created < clock and ds.updated_at(tl, clock) >= marks["contacts"].timestamp():
            expected_contacts += 1
        expected_events += len(ds.event_records(tl, marks["events"].timestamp(), clock))
    assert nightly(D + timedelta(days=1)) == "success"
    with db.transaction() as conn:
        run2 = steps(conn, D + timedelta(days=1))
        after = table_fingerprints(conn)
    assert run2["extract_contacts"].rows_in == expected_contacts
    assert run2["extract_events"].rows_in == expected_events
    assert 0 < expected_events < run1["extract_events"].rows_in / 10
    assert after["events"][0] > first["events"][0]


def test_cli_run_twice_leaves_core_tables_identical(airflow_db, db, monkeypatch, capsys):
    from journeyflow import cli

    monkeypatch.setenv("JOURNEYFLOW_DEMO_CONTACTS", "300")
    assert cli.main(["run", "--date", D.isoformat()]) == 0
    with db.transaction() as conn:
        first = table_fingerprints(conn)
    assert cli.main(["run", "--date", D.isoformat()]) == 0
    with db.transaction() as conn:
        assert table_fingerprints(conn) == first
    out = capsys.readouterr().out
    assert f"journeyflow_nightly {D}: SUCCESS" in out
    assert "quality gate: passed" in out and "awareness" in out
