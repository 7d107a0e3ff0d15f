"""A small world for rule tests: contacts and events written straight into the core tables.

D = 2026-11-20, so the cut-off T is 2026-11-21 00:00 Europe/Berlin (= 2026-11-20 23:00 UTC).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from journeyflow import lifecycle

BERLIN = ZoneInfo("Europe/Berlin")
D = date(2026, 11, 20)
T = datetime(2026, 11, 21, tzinfo=BERLIN)
SEC = timedelta(seconds=1)
DAY = timedelta(days=1)
_ids = itertools.count()


class World:
    """Contacts and events written straight into the core tables."""

    def __init__(self, db):
        self.db = db

    def contact(self, **fields) -> str:
        cid = fields.pop("contact_id", f"K{next(_ids)}")
        row = {
            "contact_id": cid, "email": f"{cid.lower()}@example.de", "email_valid": True,
            "consent_status": "none", "consent_confirmed_at": None, "postal_opt_out": False,
            "street": "Hauptstraße", "house_number": "1", "postal_code": "01067",
            "city": "Dresden", "country": "DE", "last_name": "Müller",
            "created_at": T - 1000 * DAY, "updated_at": T - 1000 * DAY,
            "address_changed_at": T - 1000 * DAY, "first_run_date": D, "changed_run_date": D,
        }  # fmt: skip
        row.update(fields)
        with self.db.transaction() as conn:
            cols = ", ".join(row)
            conn.execute(
                text(
                    f"insert into journeyflow.contacts ({cols}) values "
                    f"({', '.join(':' + c for c in row)})"
                ),  # fmt: skip
                row,
            )
        return cid

    def subscriber(self, confirmed_at: datetime, **fields) -> str:
        return self.contact(consent_status="confirmed", consent_confirmed_at=confirmed_at, **fields)

    def event(self, cid: str, etype: str, at: datetime, **props) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                text(
                    """insert into journeyflow.events (event_id, contact_id, type, occurred_at,
                         properties, amount, currency, product, rating, channel, kind, run_date)
                       values (:id, :cid, :type, :at, cast(:props as jsonb), :amount, :currency,
                               :product, :rating, :channel, :kind, :d)"""
                ),
                {
                    "id": f"E{next(_ids)}",
                    "cid": cid,
                    "type": etype,
                    "at": at,
                    "props": "{}",
                    "amount": props.get("amount", 10 if etype == "purchase" else None),
                    "currency": "EUR" if etype == "purchase" else None,
                    "product": props.get("product", "Stativ" if etype == "purchase" else None),
                    "rating": props.get("rating"),
                    "channel": props.get("channel"),
                    "kind": props.get("kind"),
                    "d": D,
                },  # fmt: skip
            )

    def sent(self, cid: str, at: datetime, n: int) -> None:
        with self.db.transaction() as conn:
            for i in range(n):
                conn.execute(
                    text(
                        "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, "
                        "channel, run_date, status, sent_at) "
                        "values (:c, 'upsell', 1, :o, 'email', :d, 'sent', :at)"
                    ),
                    {"c": cid, "o": i + 1, "d": at.date() - timedelta(days=1), "at": at},
                )

    def run(self, day: date = D, phases_dir=None) -> None:
        lifecycle.score(day)
        lifecycle.assign_phases(day, phases_dir)

    def phase(self, cid: str) -> str:
        with self.db.transaction() as conn:
            return conn.execute(
                text("select phase from journeyflow.v_contact_phase where contact_id = :c"),
                {"c": cid},
            ).scalar()

    def flags(self, cid: str) -> dict:
        with self.db.transaction() as conn:
            return dict(
                conn.execute(
                    text("select * from journeyflow.v_contact_flags where contact_id = :c"),
                    {"c": cid},
                )
                .mappings()
                .one()
            )


def customer(world: World, first: datetime, last: datetime | None = None, **fields) -> str:
    cid = world.contact(**fields)
    world.event(cid, "purchase", first)
    if last:
        world.event(cid, "purchase", last)
    return cid
