"""Contact facts as of T: orders, ratings, engagement, the score and the flags, in one pass.

``sql/facts/contact_facts.sql`` computes them for every contact (or one) into the temporary
table ``facts``; ``score`` keeps them in ``journeyflow.contact_facts`` for the phases, the
campaigns and the reports.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import read, statement


def compute_facts(conn: Connection, params: dict[str, Any], only: str | None = None) -> None:
    """Create the temporary table ``facts`` (every contact, or ``only`` one) as of the cut-off
    in ``params``, for this transaction."""
    conn.exec_driver_sql("set local work_mem = '256MB'")  # one hash aggregate over all events
    conn.exec_driver_sql("drop table if exists pg_temp.facts")
    conn.execute(
        text(f"create temp table facts on commit drop as {read('facts/contact_facts')}"),
        {**params, "only": only},
    )
    conn.exec_driver_sql("alter table facts add primary key (contact_id)")
    conn.exec_driver_sql("analyze facts")


def score(run_date: date) -> StepResult:
    """Compute contact facts (score, flags, orders, ...) as of T and keep them."""
    result = StepResult("score")
    started = time.perf_counter()
    params = load_config().rule_params(run_date)
    with warehouse.transaction() as conn:
        compute_facts(conn, params)
        conn.exec_driver_sql("truncate journeyflow.contact_facts")
        result.rows_out = conn.execute(statement("lifecycle/facts_table")).rowcount
        result.rows_in = result.rows_out
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result
