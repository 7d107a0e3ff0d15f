"""One run at a time: a second run waits for the first (a scheduled task) or refuses at once (a
second CLI run), with a message naming the run that holds the lock, never a raw database error;
nothing is sent twice."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from journeyflow.local.stack import wait_for
from journeyflow.runlog import RUN_LOCK, RunLocked, run_lock

D = date(2026, 11, 20)


@pytest.fixture
def held(db):
    """The run lock, held by another session named like a run of 2026-11-19."""
    conn = db.engine().connect()
    conn.execute(text("set application_name = 'journeyflow run 2026-11-19 (pid 4242)'"))
    conn.execute(text("select pg_advisory_lock(hashtext(:n))"), {"n": RUN_LOCK})
    conn.commit()
    yield
    conn.execute(text("select pg_advisory_unlock_all()"))
    conn.close()


def test_a_second_cli_run_refuses_at_once_naming_the_first(held):
    refused = pytest.raises(RunLocked, match=r"journeyflow run 2026-11-19 \(pid 4242\)")
    with refused as err, run_lock(D):
        pass
    assert "nothing was changed" in str(err.value)


def test_a_task_of_the_scheduler_waits_for_a_cli_run_then_fails_clearly(held):
    waiting = pytest.raises(RunLocked, match=r"waited 0.02 minutes")
    with waiting as err, run_lock(D, 0.02, shared=True, who="task merge of"):
        pass
    assert "journeyflow run 2026-11-19" in str(err.value)


def test_the_tasks_of_one_run_share_the_lock_and_a_cli_run_refuses_meanwhile(db):
    send = run_lock(D, shared=True, who="task send of")
    other = run_lock(D, shared=True, who="task x of")
    refused = pytest.raises(RunLocked, match=r"journeyflow task (send|x) of 2026-11-20")
    with send, other, refused, run_lock(D):
        pass
    with run_lock(D):  # free again
        pass


@pytest.mark.slow
def test_two_cli_runs_of_the_same_date_at_once(db, world, airflow_db, tmp_path):
    """The second ``journeyflow run`` refuses while the first works; the first sends each
    message once."""
    from journeyflow.config import home

    cli = [str(Path(sys.executable).parent / "journeyflow"), "run", "--date", str(D)]
    env = {**os.environ, "JOURNEYFLOW_DEMO_CONTACTS": "300"}
    first = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def lock_taken() -> bool:
        assert first.poll() is None, first.stdout.read().decode()[-3000:]
        with db.transaction() as conn:
            return bool(
                conn.execute(
                    text(
                        "select count(*) from pg_stat_activity "
                        "where application_name like 'journeyflow run 2026-11-20%'"
                    )
                ).scalar()
            )

    wait_for("the first run to hold the lock", lock_taken, timeout=120, every=0.2)
    second = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
    said = second.stderr
    assert "another run is working: journeyflow run 2026-11-20" in said or (
        "(journeyflow run, pid" in said and "is in progress" in said
    ), said
    assert "Traceback" not in second.stderr and "IntegrityError" not in second.stderr
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out.decode()[-3000:]
    assert "SUCCESS" in out.decode(), out.decode()[-3000:]
    with db.transaction() as conn:
        sent = conn.execute(
            text("select count(*) from journeyflow.outbox where status = 'sent'")
        ).scalar()
    files = list((home() / "outbox").rglob("*.eml"))
    assert sent > 0 and len(files) == sent, out.decode()[-3000:]
