"""Helpers for campaign and email tests: one night from the phases on, the outbox, decisions.

D = 2026-11-20 (cut-off T = 2026-11-21 00:00 Berlin), as in the rulebook tests.
"""

from __future__ import annotations

from sqlalchemy import text

from journeyflow import campaigns
from journeyflow.email import sender
from tests.world import DAY, D, T, customer

CAMPAIGN_NAMES = ("welcome_drip", "tripwire_offer", "onboarding_tips", "upsell",
                  "testimonial_request", "win_back")  # fmt: skip


def run_day(world, day, send=True):
    """One night from the phases on: score, phases, decide, send every campaign."""
    world.run(day)
    campaigns.decide(day)
    if send:
        for name in campaigns.campaign_names():
            sender.send(name, day)


def decisions(db, day, cid=None):
    with db.transaction() as conn:
        rows = conn.execute(
            text(
                "select contact_id, campaign, step, channel, decision, reason "
                "from journeyflow.v_campaign_decisions where run_date = :d "
                "and (cast(:c as text) is null or contact_id = :c) order by campaign"
            ),
            {"d": day, "c": cid},
        ).mappings()
        return [dict(r) for r in rows]


def outbox_rows(db, **where):
    cond = " and ".join(f"{k} = :{k}" for k in where) or "true"
    with db.transaction() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text(f"select * from journeyflow.outbox where {cond} order by outbox_id"), where
            ).mappings()
        ]


def subscribed_customer(world, first, last=None, **fields):
    return customer(world, first, last, consent_status="confirmed",
                    consent_confirmed_at=T - 400 * DAY, **fields)  # fmt: skip


def one_connection(raw):
    raw["campaigns"]["sender"].update(connections=1)


def queued_tripwire(db, world, n: int) -> list[str]:
    """n contacts with a tripwire_offer email queued for D, in the order the sender takes them."""
    for _ in range(n):
        world.subscriber(T - 20 * DAY)
    world.run(D)
    campaigns.decide(D)
    return [r["contact_id"] for r in outbox_rows(db)]
