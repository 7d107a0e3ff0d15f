"""The run log: what each run of a logical date D did, step by step, for people to read.

``journeyflow.pipeline_runs`` has one row per D (status, attempts), ``pipeline_steps`` one per
step of D (rows in and out, quarantined, seconds, details).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.sqlfile import statement


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
    """Keep what a step did for D (a rerun of the step replaces its row)."""
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
    """Record that D started (again): attempts count up, the message clears."""
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/start_run"), {"d": run_date, "r": run_id})


def finish_run(run_date: date, status: str, message: str | None = None) -> None:
    """Record how D ended: ``success`` or ``failed`` with what failed."""
    with warehouse.transaction() as conn:
        conn.execute(statement("runlog/finish_run"), {"d": run_date, "s": status, "m": message})
