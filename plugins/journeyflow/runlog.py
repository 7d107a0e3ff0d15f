"""The run log: what each run of a logical date D did, step by step, for people to read.

``journeyflow.pipeline_runs`` has one row per D (status, attempts), ``pipeline_steps`` one per
step of D (rows in and out, quarantined, seconds, details).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from journeyflow import progress, warehouse
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

RUN_LOCK = "journeyflow.run"
HELD_ENV = "JOURNEYFLOW_RUN_LOCK_HELD"  # the pid of a process that holds it for a whole run
CLI_MARK = " (journeyflow run, pid "  # in the run_id of a run of the CLI


class RunLocked(RuntimeError):
    """Another run holds the run lock; the message says which and what to do."""


@dataclass
class StepResult:
    step: str
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 3),
            **self.details,
        }


def plain(value: Any) -> Any:
    """JSON for database numbers (sums come back as Decimal): ``orjson.dumps(default=plain)``."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def record_step(conn: Connection, run_date: date, result: StepResult) -> None:
    """Keep what a step did for D (a rerun of the step replaces its row), and log it."""
    progress.step_done(result.step, result.rows_in, result.rows_out, result.seconds)
    log.info(
        "%s for %s: %d rows in, %d out, %d quarantined, %.2fs",
        result.step, run_date, result.rows_in, result.rows_out, result.quarantined,
        result.seconds,
    )  # fmt: skip
    conn.execute(
        statement("runlog/record_step"),
        {
            "d": run_date,
            "step": result.step,
            "rin": result.rows_in,
            "rout": result.rows_out,
            "q": result.quarantined,
            "s": result.seconds,
            "details": orjson.dumps(result.details, default=plain).decode(),
        },
    )


def start_run(run_date: date, run_id: str | None = None) -> None:
    """Record that D started (again): attempts count up, the message clears. A run of the CLI
    marks its run_id with its pid, so that a later run knows whether it is still alive."""
    holder = os.environ.get(HELD_ENV)
    if holder and run_id:
        run_id = f"{run_id}{CLI_MARK}{holder} on {socket.gethostname()})"
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/start_run"), {"d": run_date, "r": run_id})


def finish_run(run_date: date, status: str, message: str | None = None) -> None:
    """Record how D ended: ``success``, ``warning`` (something needs a person) or ``failed``."""
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/finish_run"), {"d": run_date, "s": status, "m": message})


def fail_step(run_date: date, step: str, error: BaseException | str) -> None:
    """Step ``step`` of D failed for good: the run failed there, with the error (its first
    line only: a database error's DETAIL could quote a row, and rows hold names)."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    message = f"{step} failed: {first}"[:2000]
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/fail_step"), {"d": run_date, "m": message})


def fail_run(run_date: date, reason: str) -> None:
    """D failed (keeps a failed step's own message when one was recorded)."""
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/fail_run"), {"d": run_date, "m": reason})


def run_record(run_date: date) -> dict[str, Any] | None:
    """The run of D: run_id, status, attempts, started_at, finished_at, message."""
    with warehouse.transaction() as conn:
        row = conn.execute(statement("runlog/run"), {"d": run_date}).mappings().first()
    return dict(row) if row is not None else None


@contextmanager
def run_lock(
    run_date: date, wait_minutes: float = 0.0, *, shared: bool = False, who: str = "run"
) -> Iterator[None]:
    """Hold the run lock while a run (CLI: exclusive) or a task of a run (scheduler: shared)
    works. Runs share staging and the outbox: a CLI run excludes every other run and every
    task, while the tasks of a scheduled run (mapped shards, the two extracts) share it. The
    second one waits up to ``wait_minutes``, then fails with ``RunLocked`` naming the holder.
    PostgreSQL frees it if the process dies."""
    if os.environ.get(HELD_ENV) == str(os.getpid()):  # held for this process's whole run
        yield
        return
    kind = "_shared" if shared else ""
    with warehouse.engine().connect() as conn:
        conn.execute(
            text("select set_config('application_name', :n, false)"),
            {"n": f"journeyflow {who} {run_date} (pid {os.getpid()})"[:63]},
        )
        try:
            if wait_minutes > 0:
                conn.execute(
                    text("select set_config('lock_timeout', :t, false)"),
                    {"t": f"{int(wait_minutes * 60_000)}ms"},
                )
                conn.execute(text(f"select pg_advisory_lock{kind}(hashtext(:n))"), {"n": RUN_LOCK})
            elif not conn.execute(
                text(f"select pg_try_advisory_lock{kind}(hashtext(:n))"), {"n": RUN_LOCK}
            ).scalar_one():
                raise RunLocked(_locked_message(conn, run_date, wait_minutes))
        except OperationalError as exc:
            conn.rollback()
            raise RunLocked(_locked_message(conn, run_date, wait_minutes)) from exc
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text(f"select pg_advisory_unlock{kind}(hashtext(:n))"), {"n": RUN_LOCK})
            conn.exec_driver_sql("reset application_name; reset lock_timeout")
            conn.commit()


def run_in_progress() -> dict[str, Any] | None:
    """A run that is still working (its status is ``running``), if any: a scheduled run, or a
    run of the CLI whose process is alive on this host. A dead CLI run does not count."""
    with warehouse.transaction() as conn:
        if conn.execute(text("select to_regclass('journeyflow.pipeline_runs')")).scalar() is None:
            return None  # a new warehouse: no run yet, the first task migrates it
        rows = conn.execute(statement("runlog/in_progress")).mappings().all()
    for row in rows:
        run_id = row["run_id"] or ""
        if CLI_MARK in run_id:
            pid, _, host = run_id.split(CLI_MARK, 1)[1].rstrip(")").partition(" on ")
            if host == socket.gethostname() and not _alive(int(pid)):
                continue
        return dict(row)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked_message(conn: Connection, run_date: date, wait_minutes: float) -> str:
    holder = conn.execute(statement("runlog/lock_holder"), {"name": RUN_LOCK}).first()
    who = (
        f"{holder.application_name} since {holder.backend_start:%Y-%m-%d %H:%M}"
        if holder
        else ("another run")
    )
    waited = f" (waited {wait_minutes:g} minutes)" if wait_minutes else ""
    return (
        f"another run is working: {who}{waited}. Runs share staging and the outbox, so the run "
        f"of {run_date} did not start this step; nothing was changed. Let the other run finish, "
        "then run this one again (clear the task, or run the command again)"
    )
