"""What each cockpit page shows, as plain JSON-ready dicts (the pages' JSON twins).

Every function reads the stable read models (``v_phase_counts``, ``v_funnel``,
``v_campaign_decisions``, ...) and the run log; the HTML pages draw exactly these numbers.
Personal data (names, addresses) is included only when ``editor`` is true.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.lifecycle.reports import with_conversion
from journeyflow.sqlfile import statement

STAGES = ("flyby", "known", "customer", "regular")


class NotFound(LookupError):
    """What a page asks for is not there (an unknown contact, a date without phases)."""


def plain(value: Any) -> Any:
    """Dates as ISO text, decimals as numbers, recursively: what the JSON twin returns."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(conn: Connection, name: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(statement(name), params)]


def run_dates() -> list[date]:
    """Run dates with something to show, newest first."""
    with warehouse.transaction() as conn:
        return [r["run_date"] for r in _rows(conn, "cockpit/run_dates")]


def run_date_of(run_id: str) -> date | None:
    """The run date an Airflow run id recorded, if any."""
    with warehouse.transaction() as conn:
        return conn.execute(statement("cockpit/run_of"), {"run_id": run_id}).scalar()


def funnel(run_date: date) -> dict[str, Any]:
    """Contacts per phase with the change, the phase trend, D's transitions, seed 000's funnel
    with the conversion from each stage to the next."""
    d = {"d": run_date}
    with warehouse.transaction() as conn:
        phases = _rows(conn, "reports/phase_counts_with_change", **d)
        trend = _rows(conn, "cockpit/phase_trend", **d)
        transitions = _rows(conn, "reports/read_transitions", **d)
        stages = with_conversion(_rows(conn, "cockpit/funnel", **d))
    return plain(
        {
            "run_date": run_date,
            "phases": phases,
            "trend": trend,
            "transitions": transitions,
            "funnel": stages,
        }  # fmt: skip
    )


def campaigns(run_date: date) -> dict[str, Any]:
    """Every decision of D by campaign, step, channel, outcome and reason; the outcome totals
    per campaign; unsubscribes by campaign in the week up to D."""
    params = {"d": run_date, "tz": load_config().timezone}
    with warehouse.transaction() as conn:
        rows = _rows(conn, "cockpit/decisions", **params)
        unsubscribes = _rows(conn, "cockpit/unsubscribes", **params)
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        total = totals.setdefault(
            (r["campaign"], r["channel"]),
            {"campaign": r["campaign"], "channel": r["channel"], "contacts": 0},
        )
        total[r["decision"]] = total.get(r["decision"], 0) + r["contacts"]
        total["contacts"] += r["contacts"]
    return plain(
        {
            "run_date": run_date,
            "rows": rows,
            "outcomes": list(totals.values()),
            "unsubscribes": unsubscribes,
        }  # fmt: skip
    )


def quality(run_date: date) -> dict[str, Any]:
    """The gate's verdict per check, quarantine by reason, whether the run's Data Docs exist."""
    from journeyflow.quality.gate import docs_dir

    d = {"d": run_date}
    with warehouse.transaction() as conn:
        checks = _rows(conn, "cockpit/checks", **d)
        quarantine = _rows(conn, "runlog/quarantine_reasons", **d)
    return plain(
        {
            "run_date": run_date,
            "passed": bool(checks) and not any(c["verdict"] == "failed" for c in checks),
            "checks": checks,
            "quarantine": quarantine,
            "data_docs": (docs_dir(run_date) / "index.html").is_file(),
        }  # fmt: skip
    )


def postal() -> dict[str, Any]:
    """The mailings, newest first, with their delivery state."""
    with warehouse.transaction() as conn:
        return plain({"mailings": _rows(conn, "cockpit/mailings")})


def mailing_file(run_date: date, campaign: str) -> tuple[bytes, str] | None:
    """The kept CSV of one mailing and its file name, or None."""
    with warehouse.transaction() as conn:
        row = conn.execute(statement("cockpit/mailing_file"), {"d": run_date, "campaign": campaign})
        found = row.first()
    if found is None or found.csv is None:
        return None
    return bytes(found.csv), found.file_name.rsplit("/", 1)[-1]


def contact(contact_id: str, run_date: date, editor: bool) -> dict[str, Any]:
    """``journeyflow explain`` for one contact as of D, with phase history, decisions and
    messages; who the person is and where mail went only for editors."""
    from journeyflow.lifecycle.explain import explain

    try:
        why = explain(contact_id, run_date)
    except LookupError as exc:  # the contact is not in the warehouse
        raise NotFound(str(exc)) from None
    p = {"contact_id": contact_id, "d": run_date}
    with warehouse.transaction() as conn:
        history = _rows(conn, "cockpit/contact_history", **p)
        decisions = _rows(conn, "cockpit/contact_decisions", **p)
        messages = _rows(conn, "cockpit/contact_messages", **p)
        person = _rows(conn, "cockpit/contact_person", **p) if editor else []
    if not editor:
        for message in messages:
            message.pop("recipient")
    facts = dict(why["facts"])
    facts.pop("contact_id", None)
    return plain(
        {
            "contact_id": contact_id,
            "run_date": run_date,
            "cutoff": why["cutoff"],
            "phase": why["phase"],
            "facts": facts,
            "rules": why["rules"],
            "visitors": why["visitors"],
            "history": history,
            "decisions": decisions,
            "messages": messages,
            "person": person[0] if person else None,
        }  # fmt: skip
    )


def search(text: str, editor: bool) -> list[str]:
    """Contact ids starting with ``text``; editors also find a contact by email address."""
    text = text.strip()
    if not text:
        return []
    with warehouse.transaction() as conn:
        if editor and "@" in text:
            found = _rows(conn, "cockpit/contacts_by_email", email=text.lower())
        else:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found = _rows(conn, "cockpit/contacts_by_id", prefix=escaped + "%")
    return [r["contact_id"] for r in found]


def reports(run_date: date) -> dict[str, Any]:
    """Everything ``journeyflow report`` shows for D."""
    from journeyflow.lifecycle.reports import read_report

    try:
        return plain(read_report(run_date))
    except LookupError as exc:
        raise NotFound(str(exc)) from None


def results(run_date: date) -> dict[str, Any]:
    """``journeyflow results`` up to D: per campaign, step and variant, with the uplift."""
    from journeyflow.learn.results import read_results

    return plain(read_results(run_date).as_dict())


def run(run_date: date) -> dict[str, Any]:
    """The run summary of D: steps, gate, quarantine, phases, campaigns, what needs a person."""
    from journeyflow.summary import summary

    return plain(summary(run_date, totals=False))  # counting every event is not for a page view
