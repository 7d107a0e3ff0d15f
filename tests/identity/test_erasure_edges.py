"""Erasure at its edges: others' rows naming the person, households in a delivered mailing, a
malformed re-import, a shared address, a replayed date, a sender holding the message, an old
unsubscribe link, and one event sent first anonymously, then under its contact."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from journeyflow import erasure, lifecycle
from journeyflow.postal.export import export_mailing
from tests.campaign_world import run_day
from tests.identity.conftest import night
from tests.identity.test_erasure import files_under, pg_dump
from tests.world import DAY, D, T, World, customer

EMAIL = "zenobia.quastenbrecht@example.org"


def grep(blob: bytes, needle: str) -> list[str]:
    out, start, n = [], 0, needle.encode()
    while (i := blob.find(n, start)) >= 0:
        out.append(blob[max(0, i - 120) : i + 60].decode("utf-8", "replace").replace("\n", " | "))
        start = i + 1
    return out


def test_others_events_naming_the_person_lose_it(db, warehouse_url, home):
    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ1", email=EMAIL, last_name="Quastenbrecht")
    o = world.contact(contact_id="OZ1", email="olga@example.org")
    world.event(o, "referral", T - 5 * DAY)
    with db.transaction() as conn:
        conn.execute(
            text(
                "update journeyflow.events set referred_contact_id = :p,"
                " properties = cast(:j as jsonb) where contact_id = :o and type = 'referral'"
            ),
            {"p": p, "o": o, "j": json.dumps({"referred_contact_id": p, "referred_email": EMAIL})},
        )
        conn.execute(
            text(
                "insert into journeyflow.anonymous_events (event_id, anonymous_id, type,"
                " occurred_at, properties, run_date)"
                " values ('VX', 'AX', 'page_view', :t, cast(:j as jsonb), :d)"
            ),
            {"t": T - 3 * DAY, "d": D, "j": json.dumps({"path": f"/unsubscribe?email={EMAIL}"})},
        )
    erasure.forget([p], requested_by="test")
    dump = pg_dump(warehouse_url)
    hits = grep(dump, EMAIL) + grep(dump, "PZ1")
    assert hits == []


# a household: the other member's reject names the pseudonym, their line stays in the file
@pytest.mark.parametrize("forgotten", ["HA1", "HA2"])
def test_a_household_member_stays_in_the_delivered_mailing(db, warehouse_url, home, forgotten):
    world = World(db)
    family = dict(
        last_name="Wendelgrütz",
        street="Pfauenkehre",
        house_number="3",
        postal_code="10115",
        city="Berlin",
        email_valid=False,
    )
    for cid, first in (("HA1", "Ottokar"), ("HA2", "Hedwig")):
        customer(world, T - 700 * DAY, T - 400 * DAY, contact_id=cid, first_name=first,
                 email=f"{first.lower()} at x", **family)  # fmt: skip
    run_day(world, D)
    export_mailing(D, "win_back", "scheduled__2026-11-20")
    with db.transaction() as conn:
        before = conn.exec_driver_sql("select rows from journeyflow.postal_exports").scalar()
    (done,) = erasure.forget([forgotten], requested_by="test")
    dump = pg_dump(warehouse_url)
    files = b"".join(files_under(home).values())
    with db.transaction() as conn:
        after = conn.exec_driver_sql("select rows from journeyflow.postal_exports").scalar()
    assert after == before - (1 if forgotten == "HA1" else 0)  # only a mailed person's line goes
    other = "HA2" if forgotten == "HA1" else "HA1"
    other_first = "Hedwig" if other == "HA2" else "Ottokar"
    assert grep(dump, f"same as {forgotten}") == [] and grep(files, f"same as {forgotten}") == []
    # the other family member was mailed; their line must stay in the delivered copy
    assert grep(files, f"{other};") or grep(files, other_first)


def test_a_malformed_reimport_leaves_nothing_in_quarantine(db, warehouse_url, home, source):
    world = World(db)
    p = world.subscriber(
        T - 20 * DAY, contact_id="PZ3", email=EMAIL, last_name="Quastenbrecht", street="Erlkönigweg"
    )
    erasure.forget([p], requested_by="test")
    source(
        [
            {
                "id": "PZ3",
                "email": EMAIL,
                "last_name": "Quastenbrecht",
                "street": "Erlkönigweg",
                "birthday": "31.12.1980",
                "updated_at": "2026-11-21T08:00:00Z",
            }
        ],
        [
            {
                "id": "EV3",
                "contact_id": "PZ3",
                "type": "page_view",
                "occurred_at": "gestern",
                "properties": {"email": EMAIL},
            }
        ],
    )
    night(D + DAY, gate=False)
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select stream, record_id, reason, raw::text from journeyflow.quarantine"
        ).all()
    assert not any(EMAIL in r[3] or "Quastenbrecht" in r[3] or r[1] == "PZ3" for r in rows)


def test_a_contact_sharing_the_address_keeps_its_data(db, home, source):
    source(
        [
            {
                "id": "A1",
                "email": "familie@example.org",
                "updated_at": "2026-11-01T08:00:00Z",
                "email_consent": {"status": "confirmed", "confirmed_at": "2026-10-01T08:00:00Z"},
            },
            {
                "id": "B1",
                "email": "Familie@example.org",
                "updated_at": "2026-11-01T08:00:00Z",
                "email_consent": {"status": "confirmed", "confirmed_at": "2026-10-01T08:00:00Z"},
            },
        ],
        [],
    )
    night(D, gate=False)
    erasure.forget(["A1"], requested_by="test")
    source(
        [
            {
                "id": "B1",
                "email": "Familie@example.org",
                "first_name": "Berta",
                "updated_at": "2026-11-21T08:00:00Z",
                "email_consent": {"status": "confirmed", "confirmed_at": "2026-10-01T08:00:00Z"},
            }
        ],
        [
            {
                "id": "BP1",
                "contact_id": "B1",
                "type": "purchase",
                "occurred_at": "2026-11-21T09:00:00Z",
                "properties": {"order_id": "O9", "amount": 99, "currency": "EUR", "product": "X"},
            }
        ],
    )
    night(D + DAY, gate=False)
    with db.transaction() as conn:
        purchases = conn.exec_driver_sql(
            "select count(*) from journeyflow.events where contact_id = 'B1' and type = 'purchase'"
        ).scalar()
        name = conn.exec_driver_sql(
            "select first_name from journeyflow.contacts where contact_id = 'B1'"
        ).scalar()
    assert purchases == 1 and name == "Berta"  # a contact held before keeps its updates


def test_a_replay_of_d_after_forget_keeps_the_phase_counts(db, home):
    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ5", email=EMAIL)
    world.subscriber(T - 20 * DAY, contact_id="OZ5")
    world.run(D)
    lifecycle.report(D)

    def counts():
        with db.transaction() as conn:
            return sorted(
                conn.exec_driver_sql(
                    f"select phase, contacts from journeyflow.v_phase_counts where run_date='{D}'"
                ).all()
            )

    before = counts()
    erasure.forget([p], requested_by="test")
    assert counts() == before
    world.run(D)  # the same night again (idempotent for D)
    lifecycle.report(D)
    assert counts() == before


def test_forget_while_a_sender_holds_the_message_stops_it(db, home, monkeypatch):
    from journeyflow import campaigns
    from journeyflow.email import sender

    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ6", email=EMAIL)
    world.run(D)
    campaigns.decide(D)
    real = sender._deliver

    def deliver_after_forget(db_, tr, cfg, snd, row, rcpt, message, *a, **k):
        erasure.forget([p], requested_by="test")  # arrives while the worker holds the batch
        return real(db_, tr, cfg, snd, row, rcpt, message, *a, **k)

    monkeypatch.setattr(sender, "_deliver", deliver_after_forget)
    sender.send("tripwire_offer", D)
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select contact_id, status, recipient from journeyflow.outbox"
        ).all()
    emls = [n for n, b in files_under(home).items() if EMAIL.encode() in b]
    assert not emls and rows[0][1] != "sent"


def test_a_dead_senders_claim_of_a_forgotten_person_is_cancelled(db, home):
    from journeyflow import campaigns
    from journeyflow.email import sender

    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ7", email=EMAIL)
    world.subscriber(T - 20 * DAY, contact_id="OZ7")
    world.run(D)
    campaigns.decide(D)
    with db.transaction() as conn:  # a sender died holding PZ7's claim
        conn.exec_driver_sql(
            "update journeyflow.outbox set status = 'claimed', claimed_at = now(),"
            " claimed_by = 'tripwire_offer/0|w:1:1:1' where contact_id = 'PZ7'"
        )
    erasure.forget([p], requested_by="test")
    sender.send("tripwire_offer", D)  # releases the dead claim; the row must not crash it
    with db.transaction() as conn:
        states = dict(conn.exec_driver_sql(
            "select contact_id, status from journeyflow.outbox").all())  # fmt: skip
    assert [s for c, s in states.items() if c != "OZ7"] == ["cancelled"]
    assert states["OZ7"] == "sent"


def test_an_old_unsubscribe_link_writes_nothing_back(db, home):
    from journeyflow.unsubscribe.app import suppress

    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ8", email=EMAIL)
    erasure.forget([p], requested_by="test")
    suppress("PZ8", "tripwire_offer")  # what POST /journeyflow/u/<token of PZ8> does
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select contact_id, channel, address, reason from journeyflow.suppressions"
        ).all()
    assert not any(r[0] == "PZ8" for r in rows)


def test_an_event_sent_anonymously_then_under_its_contact_counts_once(db, source):
    from tests.identity.test_stitching import contact, identify

    purchase = {
        "id": "P1",
        "anonymous_id": "A1",
        "type": "purchase",
        "occurred_at": "2026-10-03T10:00:00Z",
        "properties": {"order_id": "O1", "amount": 19.9, "currency": "EUR"},
    }
    source([contact("C1")], [purchase, identify("I1", "A1", "C1", "2026-11-01T08:05:00Z")])
    night(D)
    source([], [{**purchase, "contact_id": "C1"}])
    night(D + DAY)
    with db.transaction() as conn:
        oc = conn.exec_driver_sql(
            "select order_count, revenue from journeyflow.contact_facts where contact_id = 'C1'"
        ).one()
    assert oc[0] == 1


def test_a_replay_of_d_after_forget_keeps_the_decisions(db, home):
    from journeyflow import campaigns

    world = World(db)
    p = world.subscriber(T - 20 * DAY, contact_id="PZ9", email=EMAIL)
    world.subscriber(T - 20 * DAY, contact_id="OZ9")
    run_day(world, D)
    lifecycle.report(D)

    def counts():
        with db.transaction() as conn:
            return sorted(
                conn.exec_driver_sql(
                    "select campaign, decision, count(*) from journeyflow.v_campaign_decisions"
                    f" where run_date='{D}' group by 1, 2"
                ).all()
            )

    before = counts()
    erasure.forget([p], requested_by="test")
    world.run(D)
    campaigns.decide(D)
    assert counts() == before
