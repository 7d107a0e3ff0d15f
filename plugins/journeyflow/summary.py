"""The run summary: what the run of D did, from the run log and the read models."""

from __future__ import annotations

from datetime import date
from typing import Any

from journeyflow import warehouse
from journeyflow.sqlfile import statement


def summary(run_date: date) -> dict[str, Any]:
    """Steps with counts and seconds, quarantine reasons, the gate, phases and campaigns of D."""
    d = {"d": run_date}
    with warehouse.transaction() as conn:

        def rows(name: str) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in conn.execute(statement(name), d)]

        return {
            "run_date": run_date.isoformat(),
            "steps": rows("runlog/steps"),
            "quarantine": rows("runlog/quarantine_reasons"),
            "gate": rows("runlog/gate_results"),
            "phases": rows("reports/phase_counts"),
            "campaigns": rows("runlog/campaign_outcomes"),
            "totals": dict(conn.execute(statement("runlog/warehouse_totals")).one()._mapping),
        }
