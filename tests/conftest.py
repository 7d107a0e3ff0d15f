"""Shared fixtures: one embedded PostgreSQL and one Airflow metadata DB per test session.

Environment is set at import time, before anything imports airflow, so every test (and every
``dag.test()``) uses a throw-away ``$JOURNEYFLOW_HOME``, never a developer's.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

_HOME = Path(tempfile.mkdtemp(prefix="jf-test-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # also what stopping leaves behind
os.environ["JOURNEYFLOW_HOME"] = str(_HOME)
os.environ["JOURNEYFLOW_MODE"] = (
    "local"  # the tests ask for local mode; tests of production unset it
)
os.environ.pop("XDG_RUNTIME_DIR", None)
# Airflow's settings too: an xdist worker inherits the environment of the controller, which ran
# this file first; its metadata DB would be shared by every worker, and dag.test() of one date
# in one worker would replace the run of that date another worker is in the middle of.
for _var in [v for v in os.environ if v.startswith(("AIRFLOW_CONN_JOURNEYFLOW", "AIRFLOW__"))]:
    del os.environ[_var]
os.environ.pop("AIRFLOW_HOME", None)

from journeyflow import config as settings  # noqa: E402
from journeyflow.local import airflow_home as airflow_env  # noqa: E402


def _test_config() -> Path:
    """The repository config without holdouts and without alert and summary addresses, as every
    test's JOURNEYFLOW_CONFIG.

    Test contacts get ids from a counter, so which of them a holdout keeps would depend on the
    order the tests run in (a variant changes only a subject line); and a test that counts the
    emails an SMTP server got counts campaign emails. The tests of test and learn and of
    notifications switch them on (``config``); ``tests/learn/test_demo_nights.py`` runs the
    repository config as it is."""
    raw = yaml.safe_load(REPOSITORY_CONFIG.read_text(encoding="utf-8"))
    for spec in raw["campaigns"]["list"].values():
        (spec or {}).pop("holdout", None)
    raw["alerts"]["to"] = raw["summary"]["to"] = []
    path = Path(tempfile.mkdtemp(prefix="jf-config-")) / "journeyflow.yaml"
    atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


REPOSITORY_CONFIG = settings.PROJECT_DIR / "journeyflow.yaml"
os.environ["JOURNEYFLOW_CONFIG"] = str(_test_config())
settings.load_config.cache_clear()
airflow_env.configure()


@pytest.fixture(scope="session")
def warehouse_url():
    """The embedded PostgreSQL, started once for the session and stopped at its end."""
    from journeyflow import migrate, warehouse
    from journeyflow.local import embedded

    url = embedded.start()
    migrate.migrate()
    yield url
    warehouse.engine().dispose()
    embedded.stop()
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def db(warehouse_url):
    """A clean warehouse: every table emptied (what an earlier test of this process left, phases
    and reports included), demo dataset unpinned."""
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        truncate_everything(conn)
    (_HOME / "demo_source.json").unlink(missing_ok=True)
    for folder in ("outbox", "postal", "postal_build"):  # local deliveries of earlier tests
        shutil.rmtree(_HOME / folder, ignore_errors=True)
    yield warehouse


@pytest.fixture(scope="session")
def airflow_db(warehouse_url):
    """Airflow's metadata DB for ``dag.test()`` (created once, a few seconds)."""
    airflow_env.ensure_metadata_db()


def fresh_database(warehouse_url, name: str) -> str:
    """An empty database ``name`` on the embedded server (the metadata DB of an Airflow stack
    under test); its URL."""
    from sqlalchemy import create_engine

    admin = create_engine(warehouse_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"drop database if exists {name}")
        conn.exec_driver_sql(f"create database {name}")
    admin.dispose()
    return warehouse_url.set(database=name).render_as_string(hide_password=False)


def warehouse_connection(warehouse_url) -> dict:
    """The ``journeyflow_db`` connection to the embedded warehouse, for processes under test."""
    return {"conn_type": "postgres", "host": warehouse_url.query["host"], "login": "postgres",
            "schema": warehouse_url.database}  # fmt: skip


def truncate_everything(conn) -> None:
    """Empty every table of the warehouse but the migrations (a warehouse before its first run)."""
    from sqlalchemy import text

    tables = conn.execute(
        text(
            "select string_agg(format('%I.%I', schemaname, tablename), ', ') from pg_tables "
            "where schemaname in ('journeyflow', 'journeyflow_staging') "
            "and tablename <> 'schema_migrations'"
        )
    ).scalar()
    conn.exec_driver_sql(f"truncate {tables}")


def table_fingerprints(conn, tables=("contacts", "events", "watermarks", "quarantine")) -> dict:
    """A content hash per core table: equal fingerprints mean identical tables."""
    out = {}
    for table in tables:
        out[table] = conn.exec_driver_sql(
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from journeyflow.{table} t"
        ).one()
    return out


@pytest.fixture
def world(db):
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "truncate journeyflow.contact_facts, journeyflow.phase_history, journeyflow.phase_runs,"
            " journeyflow.phase_counts, journeyflow.phase_transitions, journeyflow.outbox"
        )
    from tests.world import World

    return World(db)


def write_config(tmp_path, monkeypatch, change) -> None:
    """The repository config, changed by ``change(raw)``, as JOURNEYFLOW_CONFIG."""
    raw = yaml.safe_load(settings.config_path().read_text(encoding="utf-8"))
    raw["campaigns"]["sender"].update(backoff_seconds=0.01, retries=2)
    change(raw)
    path = tmp_path / "journeyflow.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(path))
    settings.load_config.cache_clear()


@pytest.fixture
def config(tmp_path, monkeypatch):
    """The repository config with quick sender retries; call the fixture's value with a
    function of the raw mapping to change more."""
    write_config(tmp_path, monkeypatch, lambda raw: None)

    def change(fn):
        write_config(tmp_path, monkeypatch, fn)

    yield change
    monkeypatch.delenv("JOURNEYFLOW_CONFIG")
    settings.load_config.cache_clear()


@pytest.fixture
def smtp(monkeypatch):
    """An SMTP sink on localhost, set as the journeyflow_smtp connection."""
    from aiosmtpd.controller import Controller

    from journeyflow.local.stack import free_port
    from tests.smtp_sink import Sink, smtp_connection

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", smtp_connection(port))
    yield sink
    controller.stop()


@pytest.fixture
def cast(world):
    """One contact per campaign audience, plus the ones that must be left out."""
    from datetime import timedelta

    from tests.campaign_world import subscribed_customer
    from tests.world import DAY, T, customer

    w = world
    c = {
        "welcome": w.subscriber(T - 5 * 3600 * timedelta(seconds=1)),  # confirmed on D
        "tripwire": w.subscriber(T - 20 * DAY),
        "onboarding": subscribed_customer(w, T - 30 * 3600 * timedelta(seconds=1)),  # D-1
        "upsell": subscribed_customer(w, T - 60 * DAY),
        "upsell_bad_payer": subscribed_customer(w, T - 60 * DAY),
        "upsell_no_consent": customer(w, T - 60 * DAY),
        "testimonial": subscribed_customer(w, T - 200 * DAY, T - 20 * DAY),
        "win_back_email": subscribed_customer(w, T - 400 * DAY, T - 200 * DAY),
        "win_back_postal": customer(w, T - 400 * DAY, T - 200 * DAY),
        "win_back_bad_reviewer": subscribed_customer(w, T - 400 * DAY, T - 200 * DAY),
        "awareness": w.contact(),
    }
    w.event(c["upsell_bad_payer"], "payment_overdue", T - 10 * DAY)
    for _ in range(2):
        w.event(c["testimonial"], "purchase", T - 100 * DAY)
    w.event(c["testimonial"], "review", T - 19 * DAY, rating=5)
    w.event(c["win_back_bad_reviewer"], "review", T - 300 * DAY, rating=1)
    return c
