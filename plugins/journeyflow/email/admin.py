"""Outbox administration: states per campaign, messages in doubt, and settling them."""

from __future__ import annotations

from datetime import date

from journeyflow import warehouse
from journeyflow.sqlfile import statement

OUTCOMES = {"sent": "outbox/resolve_sent", "resend": "outbox/resolve_resend"}


def resolve(
    d: date, outcome: str, campaign: str | None = None, ids: list[int] | None = None
) -> int:
    """Settle in-doubt messages of D after checking the mail server: ``sent`` or ``resend``.

    ``ids`` limits it to these outbox ids (``journeyflow outbox`` lists them)."""
    if outcome not in OUTCOMES:
        raise ValueError("outcome is 'sent' (the server has it) or 'resend' (it does not)")
    with warehouse.transaction() as conn:
        found = conn.execute(
            statement("outbox/in_doubt_of_date"), {"d": d, "c": campaign, "ids": ids}
        ).scalars()
        settled = list(found)
        conn.execute(statement(OUTCOMES[outcome]), {"ids": settled})
    return len(settled)


def status_counts(d: date | None = None) -> list[tuple[str, str, str, int]]:
    """(campaign, channel, status, count) for D, or for everything."""
    with warehouse.transaction() as conn:
        return [tuple(r) for r in conn.execute(statement("outbox/status_counts"), {"d": d})]


def in_doubt() -> list[tuple]:
    """(outbox_id, run_date, campaign, step, contact_id, message_id) of every message in doubt."""
    with warehouse.transaction() as conn:
        return conn.execute(statement("outbox/in_doubt")).all()


def cancel_queued(d: date, campaign: str) -> int:
    """Cancel the queued emails of a campaign up to D (a later run decides them again)."""
    with warehouse.transaction() as conn:
        return conn.execute(
            statement("outbox/cancel_queued"), {"d": d, "campaign": campaign}
        ).rowcount
