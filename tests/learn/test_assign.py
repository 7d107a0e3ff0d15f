"""Holdouts and variants: the bucket formula of DESIGN.md in Python and in the warehouse, the
weights on 10,000 contacts, and decisions that hold across reruns and dates (D = 2026-11-20)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from journeyflow import campaigns
from journeyflow.config import load_config
from journeyflow.config.model import Campaign
from journeyflow.learn.assign import assignment, bucket
from tests.campaign_world import decisions, outbox_rows, run_day
from tests.world import DAY, D, T

IDS = [f"C{i:07d}" for i in range(10_000)]


def by_design(campaign: str, contact_id: str) -> int:
    """DESIGN.md, "Test and learn", word for word."""
    return int(hashlib.sha256(f"{campaign}:{contact_id}".encode()).hexdigest()[:8], 16) % 10000


def test_the_bucket_is_the_formula_in_python_and_in_sql(db):
    expected = {cid: by_design("tripwire_offer", cid) for cid in IDS}
    assert {cid: bucket("tripwire_offer", cid) for cid in IDS} == expected
    with db.transaction() as conn:  # the expression of sql/decisions/decide.sql
        rows = conn.execute(
            text(
                "select c, ('x' || left(encode(sha256(convert_to('tripwire_offer' || ':' || c, "
                "'UTF8')), 'hex'), 8))::bit(32)::bigint % 10000 from unnest(cast(:ids as text[])) c"
            ),
            {"ids": IDS},
        ).all()
    assert dict(rows) == expected
    assert bucket("tripwire_offer", "Ünïcode-7") == by_design("tripwire_offer", "Ünïcode-7")


def test_variant_weights_hold_on_10000_contacts():
    camp = Campaign("upsell", holdout=0.10, variants={1: (("a", 30), ("b", 70))})
    assert camp.variant_ranges(1) == [("a", 1000, 3700), ("b", 3700, 10000)]
    got = Counter(assignment(camp, 1, cid) for cid in IDS)
    # binomial: 4 standard deviations on 10,000 draws
    assert abs(got["holdout"] - 1000) <= 4 * (10_000 * 0.1 * 0.9) ** 0.5
    assert abs(got["a"] - 2700) <= 4 * (10_000 * 0.27 * 0.73) ** 0.5
    assert abs(got["b"] - 6300) <= 4 * (10_000 * 0.63 * 0.37) ** 0.5
    assert sum(got.values()) == 10_000
    # the split keeps its order by weight: an unchanged holdout keeps the same contacts in it
    wider = Campaign("upsell", holdout=0.10, variants={1: (("a", 50), ("b", 50))})
    assert {c for c in IDS if assignment(camp, 1, c) == "holdout"} == {
        c for c in IDS if assignment(wider, 1, c) == "holdout"
    }


def test_decisions_follow_the_formula_across_reruns_and_dates(db, world, smtp, config):
    config(lambda raw: raw["campaigns"]["list"]["welcome_drip"].update(
        holdout=0.3, variants={1: {"a": 50, "b": 50}}))  # fmt: skip
    camp = load_config().campaigns.get("welcome_drip")
    people = [world.subscriber(T - 3600 * timedelta(seconds=1)) for _ in range(200)]
    run_day(world, D)
    first = {r["contact_id"]: r for r in decisions(db, D) if r["campaign"] == "welcome_drip"}
    expected = {cid: assignment(camp, 1, cid) for cid in people}
    held = {cid for cid, group in expected.items() if group == "holdout"}
    assert 30 < len(held) < 90  # about 30 % of 200
    assert {c for c, r in first.items() if r["decision"] == "held_out"} == held
    assert all("control group (30 % of contacts)" in first[c]["reason"] for c in held)
    with db.transaction() as conn:
        variants = dict(conn.execute(text(
            "select contact_id, variant from journeyflow.campaign_decisions "
            "where run_date = :d and campaign = 'welcome_drip'"), {"d": D}).all())  # fmt: skip
    assert variants == expected
    mails = {str(m["X-Campaign-Variant"]) for m in smtp.messages}
    assert mails == {"a", "b"} and len(smtp.messages) == 200 - len(held)

    campaigns.decide(D)  # a rerun of D: the same people held out, nothing sent twice
    rerun = {r["contact_id"]: r for r in decisions(db, D) if r["campaign"] == "welcome_drip"}
    assert rerun == first
    held_rows = outbox_rows(db, status="held_out")
    assert {r["contact_id"] for r in held_rows} == held
    assert all(r["message"] is None and r["variant"] == "holdout" for r in held_rows)

    # three days later step 2 is due: the same contacts are held out again
    later = D + timedelta(days=3)
    run_day(world, later)
    step2 = {r["contact_id"]: r for r in decisions(db, later) if r["campaign"] == "welcome_drip"}
    assert {c for c, r in step2.items() if r["decision"] == "held_out"} == held
    assert all(r["step"] == 2 for r in step2.values())
    assert {c for c, r in step2.items() if r["decision"] == "sent"} == set(people) - held


def test_held_out_counts_for_once_and_repeat_but_not_for_the_caps(db, world, smtp, config):
    """A contact in tripwire_offer's holdout and in upsell's audience... cannot be: phases are
    exclusive. So: birthday (first in the list) holds the contact out; its one message of the
    day is still free for the next campaign, and the birthday is done for the year."""
    config(lambda raw: raw["campaigns"]["list"]["birthday"].update(holdout=0.5, days_before=0))
    camp = load_config().campaigns.get("birthday")
    ids = [f"HB{i}" for i in range(40)]
    held = [c for c in ids if assignment(camp, 1, c) == "holdout"][:3]
    sent = [c for c in ids if assignment(camp, 1, c) != "holdout"][:3]
    born = D.replace(year=1980)
    for cid in held + sent:  # subscribers of 20 days: tripwire_offer's audience too
        world.subscriber(T - 20 * DAY, contact_id=cid, birthday=born)
    run_day(world, D)
    got = {(r["contact_id"], r["campaign"]): r for r in decisions(db, D)}
    for cid in held:
        assert got[cid, "birthday"]["decision"] == "held_out"
        assert got[cid, "tripwire_offer"]["decision"] == "sent"  # the cap was not used up
    for cid in sent:
        assert got[cid, "birthday"]["decision"] == "sent"
        assert got[cid, "tripwire_offer"]["decision"] == "held"  # 1 message per run date
        assert got[cid, "tripwire_offer"]["reason"].startswith("cap: 1 campaign message")
    to = {str(m["To"]).split("<")[-1].rstrip(">") for m in smtp.messages
          if m["X-Campaign"] == "birthday"}  # fmt: skip
    assert to == {f"{c.lower()}@example.de" for c in sent}
    # a year minus a day later: the repeat window (365 days) counts the holdout as sent
    next_year = D + timedelta(days=364)
    with db.transaction() as conn:
        conn.execute(
            text("update journeyflow.contacts set birthday = :b where contact_id = any(:c)"),
            {"b": next_year.replace(year=1980), "c": held},
        )
    run_day(world, next_year)
    again = {r["contact_id"]: r for r in decisions(db, next_year) if r["campaign"] == "birthday"}
    assert {again[c]["decision"] for c in held} == {"held"}
    assert all("repeat window: last sent " + str(D) in again[c]["reason"] for c in held)


def test_the_holdout_is_held_out_only_where_the_caps_would_have_queued(db, world, config):
    """A control contact whom the caps would have held is held like the others (and held out
    on the date its step would go out), so both groups meet the caps alike."""
    config(lambda raw: raw["campaigns"]["list"]["tripwire_offer"].update(holdout=0.5))
    camp = load_config().campaigns.get("tripwire_offer")
    ids = [f"TW{i}" for i in range(40)]
    control = [c for c in ids if assignment(camp, 1, c) == "holdout"][:4]
    treated = [c for c in ids if assignment(camp, 1, c) != "holdout"][:4]
    for cid in control + treated:
        world.subscriber(T - 20 * DAY, contact_id=cid)
    for cid in control[:2] + treated[:2]:  # three messages in the week: the cap holds them
        world.sent(cid, T - 2 * DAY, 3)
    world.run(D)
    campaigns.decide(D)
    got = {r["contact_id"]: r for r in decisions(db, D)}
    for cid in control[:2] + treated[:2]:
        assert got[cid]["decision"] == "held"
        assert got[cid]["reason"].startswith("cap: 3 campaign messages in the run dates")
    assert {got[c]["decision"] for c in control[2:]} == {"held_out"}
    assert {got[c]["decision"] for c in treated[2:]} == {"queued"}
    later = D + timedelta(days=7)  # the week has passed: now the capped control contact is out
    world.run(later)
    campaigns.decide(later)
    again = {r["contact_id"]: r["decision"] for r in decisions(db, later)}
    assert {again[c] for c in control[:2]} == {"held_out"}
    assert {again[c] for c in treated[:2]} == {"queued"}
