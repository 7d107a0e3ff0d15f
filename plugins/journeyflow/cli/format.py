"""What the commands share: date arguments, the default run date, and the run summary."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta
from typing import Any


def parse_date(value: str) -> date:
    """An argparse type: ``2026-11-21``."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-21") from None


def yesterday() -> date:
    from journeyflow.config import load_config

    return datetime.now(load_config().tz).date() - timedelta(days=1)


def last_run_date() -> date:
    """The newest run date whose phases were assigned (else yesterday)."""
    from journeyflow import warehouse
    from journeyflow.sqlfile import statement

    with warehouse.transaction() as conn:
        last = conn.execute(statement("lifecycle/last_phase_run")).scalar()
    return last or yesterday()


def show(value: Any) -> str:
    """A value for a person: two decimals, timestamps to the second."""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def phase_lines(data: dict[str, Any]) -> list[str]:
    return [f"  {p['phase']:<14}{p['contacts']:>10,}{p['change']:>+9,}" for p in data["phases"]]


def run_state(summary: dict[str, Any], dag_state: str) -> str:
    """SUCCESS, WARNING (it worked, but something needs a person) or FAILED."""
    run = summary.get("run") or {}
    if run.get("status") == "warning":
        return "WARNING"
    return "SUCCESS" if dag_state == "success" else "FAILED"


def mode_line() -> str:
    """``local mode: ...`` naming the stand-ins in use, or ``production``."""
    from journeyflow.connections import NEEDED, get_connection, local_mode

    if not local_mode():
        return "production mode"
    stand_ins = [n.local_stand_in for n in NEEDED.values() if get_connection(n.conn_id) is None]
    return "LOCAL MODE (demo): " + ("; ".join(stand_ins) or "every connection set")


def format_summary(summary: dict[str, Any], state: str, seconds: float) -> str:
    """The run summary as ``journeyflow run`` and ``make demo`` print it."""
    from journeyflow.config import home

    shown = run_state(summary, state)
    lines = [
        "",
        f"journeyflow_nightly {summary['run_date']}: {shown} in {seconds:.1f}s",
        f"  {mode_line()}",
    ]
    run = summary.get("run") or {}
    if shown == "FAILED":
        lines.append(f"  failed: {run.get('message') or 'see the task logs'}")
    if summary.get("attention"):
        lines += ["", "  needs a person:", *(f"  - {a}" for a in summary["attention"])]
    lines += [
        "",
        f"  {'step':<26}{'rows in':>12}{'rows out':>12}{'quarantined':>13}{'seconds':>10}",
    ]
    for step in summary["steps"]:
        lines.append(
            f"  {step['step']:<26}{step['rows_in'] or 0:>12,}{step['rows_out'] or 0:>12,}"
            f"{step['quarantined'] or 0:>13,}{step['seconds'] or 0:>10.2f}"
        )
    if summary["quarantine"]:
        lines += ["", "  quarantined this run, by reason:"]
        for q in summary["quarantine"]:
            lines.append(f"  {q['records']:>8,}  {q['stream']:<9} {q['reason']}")
    gate = summary.get("gate") or []
    if gate:
        verdicts = [g["verdict"] for g in gate]
        verdict = "FAILED" if "failed" in verdicts else "passed"
        counts = {v: verdicts.count(v) for v in ("passed", "warning", "failed")}
        lines += [
            "",
            f"  quality gate: {verdict} ({counts['passed']} checks passed, "
            f"{counts['warning']} warnings, {counts['failed']} failed)",
        ]
        for g in gate:
            bad = g["unexpected_count"]
            if g["verdict"] == "passed" and bad:
                lines.append(f"  {'flagged':>8}  {g['check_name']}: {bad:,} rows (kept, marked)")
            elif g["verdict"] != "passed":
                what = f"{bad:,} rows bad" if bad is not None else f"observed {g['observed_value']}"
                lines.append(f"  {g['verdict']:>8}  {g['check_name']}: {what}")
        docs = home() / "data_docs" / summary["run_date"] / "index.html"
        lines.append(f"  data docs: {docs}")
    if summary.get("phases"):
        lines += ["", f"  {'phase':<14}{'contacts':>10}{'change':>9}", *phase_lines(summary)]
    lines += _campaign_lines(summary)
    totals = summary["totals"]
    lines += [
        "",
        f"  warehouse now: {totals['contacts']:,} contacts, {totals['events']:,} events, "
        f"{totals['anonymous_events']:,} anonymous events "
        f"({totals['linked_visitors']:,} visitors linked to contacts), "
        f"{totals['quarantined']:,} records in quarantine",
    ]
    return "\n".join(lines)


def _campaign_lines(summary: dict[str, Any]) -> list[str]:
    from journeyflow.config import home
    from journeyflow.connections import get_connection
    from journeyflow.states import Status

    rows = summary.get("campaigns") or []
    if not rows:
        return []
    per: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        per.setdefault((r["campaign"], r["channel"]), {})[r["decision"]] = r["contacts"]
    lines = ["", "  campaign decisions (journeyflow plan / explain tell why):"]
    for (campaign, channel), counts in per.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        lines.append(f"  {campaign:<22}{channel:<8}{shown}")
    d = summary["run_date"]
    if get_connection("journeyflow_smtp") is None:
        lines.append(f"  emails: .eml files in {home() / 'outbox' / d}")
    if get_connection("journeyflow_postal_drop") is None and any(
        r["decision"] == Status.EXPORTED for r in rows
    ):
        lines.append(f"  letters: mailing files in {home() / 'postal'}/<campaign>/{d}")
    for step in summary["steps"]:
        if not step["step"].startswith("export_postal."):
            continue
        details = step["details"] or {}
        campaign = step["step"].removeprefix("export_postal.")
        lines.append(
            f"  {campaign} letters: {details.get('rows', 0):,} pieces in "
            f"{details.get('file') or 'no file'}, {details.get('rejected', 0):,} rejected"
            " (journeyflow.postal_rejects)"
        )
        lines += [f"  warning: {w}" for w in details.get("warnings") or []]
    return lines
