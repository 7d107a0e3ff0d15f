"""Everything journeyflow holds about one person, as JSON (GDPR Art. 15)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from journeyflow import warehouse
from journeyflow.sqlfile import statement


def export_data(contact_id: str) -> dict[str, Any]:
    """The person's contact record, facts, events (their own and those of the anonymous ids
    linked to them), phase history, campaign decisions, messages as sent, the mailings their
    letters went out in (the print vendor got their address), suppressions, postal rejects and
    quarantined records; ``LookupError`` for a contact the warehouse does not hold."""
    with warehouse.transaction() as conn:
        found = conn.execute(statement("erasure/export"), {"contact_id": contact_id}).scalar_one()
    if found.get("contact") is None and not found["quarantine"] and not found["events"]:
        raise LookupError(
            f"contact {contact_id} is not in the warehouse (never imported, or forgotten on "
            "request: then nothing is held that names them)"
        )
    return {
        "contact_id": contact_id,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "about": "everything journeyflow holds about this person (GDPR Art. 15)",
        **found,
    }
