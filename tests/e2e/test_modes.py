"""Two modes: outside local mode nothing falls back. Each connection missing in turn, with a real
SMTP server listening: the run fails at its first task, names the connection and how to set it,
sends nothing and changes no row. Unsubscribe links in real mail must be public https."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import table_fingerprints

D = date(2026, 11, 20)
BERLIN = ZoneInfo("Europe/Berlin")
BUSINESS_TABLES = (
    "contacts", "events", "watermarks", "quarantine", "contact_facts", "campaign_decisions",
    "decision_counts", "outbox", "suppressions", "postal_exports", "postal_rejects",
    "validation_results",
)  # fmt: skip
CONNECTIONS = (
    "journeyflow_db", "journeyflow_source", "journeyflow_smtp", "journeyflow_postal_drop",
    "journeyflow_unsubscribe",
)  # fmt: skip
PUBLIC = "https://marketing.shop.example/journeyflow/u/"


@pytest.fixture
def production(airflow_db, db, warehouse_url, smtp, tmp_path, monkeypatch):
    """Every connection set, JOURNEYFLOW_MODE unset (production), the demo shop as a real HTTP
    source with a token, an SMTP sink and a drop folder."""
    from journeyflow.config import load_config
    from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

    dataset = DemoDataset(300, anchor=D, seed=7)
    server = DemoSourceServer(dataset, clock=load_config().cutoff(D).timestamp(), token="t0k3n")
    server.start()
    conns = {
        "journeyflow_db": {
            "conn_type": "postgres", "host": warehouse_url.query["host"], "login": "postgres",
            "schema": warehouse_url.database,
        },
        "journeyflow_source": {"conn_type": "http", "host": server.url, "password": "t0k3n"},
        "journeyflow_postal_drop": {"conn_type": "fs", "extra": {"path": str(tmp_path / "drop")}},
        "journeyflow_unsubscribe": {
            "conn_type": "generic", "host": PUBLIC, "password": "k1:" + "s" * 32,
        },
    }  # fmt: skip
    for conn_id, value in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    monkeypatch.delenv("JOURNEYFLOW_MODE")
    fresh_engine()  # the next statement finds the warehouse through the connection
    yield smtp
    server.stop()
    fresh_engine()


def fresh_engine() -> None:
    from journeyflow import warehouse

    warehouse.reset()


def run_dag() -> str:
    from journeyflow.local import airflow_home as airflow_env

    dag = airflow_env.load_dag()
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test(logical_date=datetime.combine(D, time(0), tzinfo=BERLIN))
    return str(getattr(dag_run.state, "value", dag_run.state))


def fingerprints(db) -> dict:
    with db.transaction() as conn:
        return table_fingerprints(conn, BUSINESS_TABLES)


def failure(db) -> str:
    with db.transaction() as conn:
        return conn.exec_driver_sql(
            f"select message from journeyflow.pipeline_runs where run_date = '{D}'"
        ).scalar()


def test_production_with_every_connection_sends_with_public_links(production, db):
    assert run_dag() == "success"
    assert production.messages, "the demo shop's subscribers get emails"
    for message in production.messages:
        assert str(message["List-Unsubscribe"]).startswith(f"<{PUBLIC}")


@pytest.mark.parametrize("missing", CONNECTIONS)
def test_a_missing_connection_stops_the_cli_run_before_anything_changes(
    production, db, capsys, missing
):
    """``journeyflow run``: one line naming the connection and how to set it, exit 2."""
    from journeyflow import cli

    before = fingerprints(db)
    value = os.environ.pop(f"AIRFLOW_CONN_{missing.upper()}")
    fresh_engine()
    try:
        code = cli.main(["run", "--date", str(D)])
    finally:
        os.environ[f"AIRFLOW_CONN_{missing.upper()}"] = value
        fresh_engine()
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"connection {missing}" in err and f"AIRFLOW_CONN_{missing.upper()}" in err
    assert production.messages == [] and fingerprints(db) == before


def test_a_missing_connection_fails_the_first_task_of_the_dag(production, db, monkeypatch):
    """Under Airflow (here dag.test), the first task fails naming the connection; the run log
    says so; nothing is sent and no row changes."""
    before = fingerprints(db)
    monkeypatch.delenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP")
    assert run_dag() == "failed"
    assert production.messages == [] and fingerprints(db) == before
    message = failure(db)
    assert message.startswith("check_connections failed: connection journeyflow_smtp")
    assert "AIRFLOW_CONN_JOURNEYFLOW_SMTP" in message


@pytest.mark.parametrize(
    "base",
    [
        "http://marketing.shop.example/journeyflow/u/",
        "https://localhost:8080/journeyflow/u/",
        "https://10.0.0.8/journeyflow/u/",
        "https://192.168.1.20/u/",
        "https://[::1]/u/",
        "https://airflow/journeyflow/u/",
        "https://airflow.internal/journeyflow/u/",
    ],
)
def test_real_mail_never_carries_an_unreachable_unsubscribe_link(production, monkeypatch, base):
    from journeyflow import preflight
    from journeyflow.unsubscribe.links import UnreachableLink

    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE",
        json.dumps({"conn_type": "generic", "host": base, "password": "k1:" + "s" * 32}),
    )
    with pytest.raises(UnreachableLink, match="public https base URL") as err:
        preflight.check_run()
    assert "journeyflow_unsubscribe" in str(err.value)


def test_messages_rendered_with_local_links_are_never_sent_for_real(
    production, db, monkeypatch, world
):
    """Queued in local mode (links to localhost), then sent through a real server: the send
    stops before the first message and says how to get them queued again."""
    from journeyflow import campaigns
    from journeyflow.email import sender
    from journeyflow.email.transport import SenderError
    from tests.world import DAY, T

    for _ in range(3):
        world.subscriber(T - 20 * DAY)  # tripwire_offer
    monkeypatch.setenv("JOURNEYFLOW_MODE", "local")
    monkeypatch.delenv("AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE")
    world.run(D)
    campaigns.decide(D)
    monkeypatch.delenv("JOURNEYFLOW_MODE")
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE",
        json.dumps({"conn_type": "generic", "host": PUBLIC, "password": "k1:" + "s" * 32}),
    )
    with pytest.raises(SenderError, match="cancel-queued"):
        sender.send("tripwire_offer", D)
    assert production.messages == []
    with db.transaction() as conn:
        states = conn.exec_driver_sql("select distinct status from journeyflow.outbox").scalars()
        assert set(states) == {"queued"}


def test_an_unknown_mode_is_an_error_not_a_guess(monkeypatch):
    from journeyflow.connections import mode

    monkeypatch.setenv("JOURNEYFLOW_MODE", "demo")
    with pytest.raises(ValueError, match="JOURNEYFLOW_MODE='demo' is not a mode"):
        mode()


@pytest.mark.parametrize(
    ("conn_id", "value", "says"),
    [
        ("journeyflow_postal_drop", {"conn_type": "ftp", "host": "x"}, "use sftp, or fs"),
        ("journeyflow_unsubscribe", {"conn_type": "generic", "host": PUBLIC}, "empty"),
        ("journeyflow_source", {"conn_type": "http"}, "has no host"),
        ("journeyflow_smtp", {"conn_type": "smtp", "host": "smtp.example",
                              "extra": {"from_email": "no address"}}, "is not an address"),
    ],
)  # fmt: skip
def test_a_connection_that_cannot_work_fails_check_connections_before_anything(
    production, monkeypatch, conn_id, value, says
):
    from journeyflow import preflight

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    with pytest.raises(Exception, match=says) as err:
        preflight.check_run()
    assert conn_id in str(err.value)
