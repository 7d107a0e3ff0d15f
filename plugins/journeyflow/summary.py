"""The run summary: what the run of D did, from the run log and the read models, and what
needs a person now."""

from __future__ import annotations

from datetime import date
from typing import Any

from journeyflow import warehouse
from journeyflow.sqlfile import statement


def summary(run_date: date, totals: bool = True) -> dict[str, Any]:
    """Steps with counts and seconds, quarantine reasons, the gate, phases and campaigns of D,
    the run's status and message, what needs attention, and (``totals``) the warehouse's size,
    which counts every row."""
    d = {"d": run_date}
    with warehouse.transaction() as conn:

        def rows(name: str) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in conn.execute(statement(name), d)]

        run = conn.execute(statement("runlog/run"), d).mappings().first()
        found = {
            "run_date": run_date.isoformat(),
            "run": dict(run) if run is not None else None,
            "steps": rows("runlog/steps"),
            "quarantine": rows("runlog/quarantine_reasons"),
            "gate": rows("runlog/gate_results"),
            "phases": rows("reports/phase_counts_with_change"),
            "campaigns": rows("runlog/campaign_outcomes"),
            "attention": attention(conn),
        }
        if totals:
            found["totals"] = dict(
                conn.execute(statement("runlog/warehouse_totals")).one()._mapping
            )
        return found


def attention(conn: Any = None) -> list[str]:
    """What needs a person now, each with the exact next step: messages and mailings in doubt."""
    if conn is None:
        with warehouse.transaction() as own:
            return attention(own)
    lines = []
    for r in conn.execute(statement("runlog/in_doubt_messages")).mappings():
        ids = ", ".join(str(i) for i in r["ids"])
        lines.append(
            f"{r['messages']} {r['campaign']} message(s) of {r['run_date']} in doubt (outbox ids "
            f"{ids}{', ...' if r['messages'] > len(r['ids']) else ''}): look their Message-ID up "
            "in the mail server log, then `journeyflow outbox --date "
            f"{r['run_date']} --id N --resolve sent` (it arrived) or `--resolve resend`"
        )
    for r in conn.execute(statement("runlog/in_doubt_mailings")).mappings():
        lines.append(
            f"postal mailing {r['campaign']} of {r['run_date']} in doubt: ask the print vendor "
            f"whether they have it, then `journeyflow postal --date {r['run_date']} --campaign "
            f"{r['campaign']} --resolve delivered` (or `--resolve resend`)"
        )
    return lines
