"""Reports of D: cohorts, lifetime value by first product, engagement levels, phase counts.

Each report is a model in ``sql/reports/<name>.sql`` that fills ``journeyflow.report_<name>``
for D; a rerun of D replaces its rows.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from sqlalchemy import text

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

REPORTS = ("cohorts", "clv", "engagement")


def report(run_date: date) -> StepResult:
    """Store D's reports."""
    result = StepResult("report")
    started = time.perf_counter()
    params = {"d": run_date, "tz": load_config().timezone}
    with warehouse.transaction() as conn:
        for name in REPORTS:
            conn.execute(text(f"delete from journeyflow.report_{name} where run_date = :d"), params)
            result.rows_out += conn.execute(statement(f"reports/{name}"), params).rowcount
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


def read_report(run_date: date | None = None) -> dict[str, Any]:
    """Everything ``journeyflow report`` prints, for D or the latest run."""
    with warehouse.transaction() as conn:
        if run_date is None:
            run_date = conn.execute(statement("lifecycle/last_phase_run")).scalar()
        if run_date is None:
            raise LookupError("no phases assigned yet: run the pipeline first")
        d = {"d": run_date}

        def rows(name: str) -> list[dict]:
            return [dict(r._mapping) for r in conn.execute(statement(f"reports/{name}"), d)]

        return {
            "run_date": run_date,
            "phases": rows("phase_counts"),
            "transitions": rows("read_transitions"),
            "cohorts": rows("read_cohorts"),
            "clv": rows("read_clv"),
            "engagement": rows("read_engagement"),
        }
