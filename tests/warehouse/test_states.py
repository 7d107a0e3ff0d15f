"""The states of messages and decisions: one Python vocabulary, the same lists in the database."""

from __future__ import annotations

import re

import pytest

from journeyflow.states import Channel, Decision, Status


def allowed(conn, constraint: str) -> set[str]:
    definition = conn.exec_driver_sql(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = %s", (constraint,)
    ).scalar_one()
    return set(re.findall(r"'([a-z_]+)'", definition))


@pytest.mark.parametrize(
    ("constraint", "enum"),
    [
        ("outbox_status_known", Status),
        ("outbox_channel_known", Channel),
        ("campaign_decisions_decision_known", Decision),
        ("campaign_decisions_channel_known", Channel),
    ],
)
def test_the_database_knows_exactly_the_states_of_the_code(db, constraint, enum):
    with db.transaction() as conn:
        assert allowed(conn, constraint) == {s.value for s in enum}


def test_an_unknown_state_is_refused(db):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="outbox_status_known"), db.transaction() as conn:
        conn.exec_driver_sql(
            "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, channel, "
            "run_date, status) values ('c', 'upsell', 1, 1, 'email', '2026-11-20', 'delivered')"
        )
