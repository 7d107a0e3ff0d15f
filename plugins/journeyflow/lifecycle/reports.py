"""Reports of D: cohorts, lifetime value by first product, engagement levels, the funnel, the
win-back response by months since the last order.

Each report is a model in ``sql/reports/<name>.sql`` that fills ``journeyflow.report_<name>``
for D; a rerun of D replaces its rows.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from sqlalchemy import text

from journeyflow import states, warehouse
from journeyflow.config import load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

# report table -> the model that fills it for D
REPORTS = {
    "report_cohorts": "reports/cohorts",
    "report_clv": "reports/clv",
    "report_engagement": "reports/engagement",
    "report_funnel": "reports/funnel",
    "report_winback": "reports/winback",
}
WIN_BACK = "win_back"  # the campaign whose response curve report_winback shows
FLYBY_DAYS = 30  # a flyby is an anonymous id seen in the last 30 days before T, not identified


def report(run_date: date) -> StepResult:
    """Store D's reports."""
    result = StepResult("report")
    started = time.perf_counter()
    cfg = load_config()
    params = {"d": run_date, "tz": cfg.timezone, "campaign": WIN_BACK,
              "days": cfg.campaigns.attribution_days, "members": list(states.MEASURED),
              "cutoff": cfg.cutoff(run_date), "flyby_days": FLYBY_DAYS}  # fmt: skip
    with warehouse.transaction() as conn:
        for table, model in REPORTS.items():
            conn.execute(text(f"delete from journeyflow.{table} where run_date = :d"), params)
            result.rows_out += conn.execute(statement(model), params).rowcount
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
            return [dict(r._mapping) for r in conn.execute(statement(name), d)]

        return {
            "run_date": run_date,
            "phases": rows("reports/phase_counts_with_change"),
            "transitions": rows("reports/read_transitions"),
            "cohorts": rows("reports/read_cohorts"),
            "clv": rows("reports/read_clv"),
            "engagement": rows("reports/read_engagement"),
            "winback": rows("reports/read_winback"),
            "funnel": with_conversion(rows("cockpit/funnel")),
        }


def with_conversion(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The funnel's stages (top first) with ``reached`` (people at this stage or further down)
    and ``to_next`` (the share of those who went on to the next stage; None for the last)."""
    reached = 0
    for stage in reversed(stages):
        reached += stage["people"]
        stage["reached"] = reached
    for i, this in enumerate(stages):
        after = stages[i + 1]["reached"] if i + 1 < len(stages) else None
        this["to_next"] = (
            round(after / this["reached"], 4) if after is not None and this["reached"] else None
        )
    return stages
