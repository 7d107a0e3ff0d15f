"""Incremental facts: a night after the last recomputes only the contacts whose events changed,
and gives the same facts as a full recompute of the same date (a replay)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from sqlalchemy import text

from journeyflow import lifecycle
from tests.world import DAY, D, T, customer

HOUR = timedelta(hours=1)


def kept_facts(db) -> dict[str, dict]:
    with db.transaction() as conn:
        rows = conn.execute(text("select * from journeyflow.contact_facts")).mappings().all()
    return {r["contact_id"]: dict(r) for r in rows}


def assert_same_facts(incremental: dict, full: dict) -> None:
    assert incremental.keys() == full.keys()
    for cid, row in full.items():
        ours = incremental[cid]
        assert math.isclose(ours.pop("score"), row.pop("score"), rel_tol=1e-12, abs_tol=1e-12), cid
        assert ours == row, cid


def how_scored(db, d) -> dict:
    with db.transaction() as conn:
        details = conn.execute(
            text("select details from journeyflow.pipeline_steps where run_date = :d "
                 "and step = 'score'"),
            {"d": d},
        ).scalar()  # fmt: skip
    return details if isinstance(details, dict) else json.loads(details)


def anonymous(db, aid: str, at, kind: str = "page_view", **link) -> None:
    """An anonymous event; with ``contact`` and ``identified``: the link to a contact."""
    with db.transaction() as conn:
        conn.execute(
            text(
                "insert into journeyflow.anonymous_events (event_id, anonymous_id, type, "
                "occurred_at, properties, run_date) values (:e, :a, :t, :at, '{}', :d)"
            ),
            {"e": f"{aid}-{at.timestamp():.0f}", "a": aid, "t": kind, "at": at, "d": D},
        )
        if link:
            conn.execute(
                text(
                    "insert into journeyflow.identities (anonymous_id, contact_id, "
                    "identified_at, event_id, run_date) values (:a, :c, :at, :e, :d)"
                ),
                {"a": aid, "c": link["contact"], "at": link["identified"], "e": f"I-{aid}",
                 "d": D},
            )  # fmt: skip


def night_and_replay(world, db, d) -> dict:
    """Run the phases for D, then replay D (a full recompute); both facts must agree."""
    world.run(d)
    incremental = kept_facts(db)
    how = how_scored(db, d)
    lifecycle.score(d)
    assert how_scored(db, d)["behaviour"] == "full"
    assert_same_facts(incremental, kept_facts(db))
    return how


def test_a_replayed_date_gives_the_same_scores_as_the_nights_that_recomputed_only_changes(
    world, db
):
    quiet = [customer(world, T - 300 * DAY, T - 40 * DAY) for _ in range(5)]
    for cid in quiet:
        world.event(cid, "page_view", T - 3 * DAY)
        world.event(cid, "email_click", T - 80 * DAY)
    leaving = world.contact()  # its page view leaves the 365-day window on D+1
    world.event(leaving, "newsletter_signup", T - 365 * DAY + 5 * HOUR)
    world.event(leaving, "comment", T - 20 * DAY)
    late = customer(world, T - 500 * DAY, T - 100 * DAY)
    active = customer(world, T - 60 * DAY)
    linked = world.contact()
    bad_payer = customer(world, T - 400 * DAY)
    world.event(bad_payer, "payment_overdue", T - 364 * DAY - 12 * HOUR)  # 365 days: D, not D+1
    world.run(D)
    assert how_scored(db, D)["behaviour"] == "full"
    first = kept_facts(db)

    d1, t1 = D + timedelta(days=1), T + DAY
    world.event(active, "purchase", t1 - 3 * HOUR, product="Kurs", amount=99)  # the day's news
    world.event(late, "review", T - 30 * DAY, rating=1)  # arrived late: happened before T
    world.event(active, "page_view", t1 + 5 * HOUR)  # not yet: after the cut-off of D+1
    newcomer = customer(world, T + 5 * HOUR)
    anonymous(db, "A-early", T - 200 * DAY)  # browsed long ago, identified on D+1
    anonymous(db, "A-early", T - 10 * DAY, "purchase")
    anonymous(db, "A-early", t1 - HOUR, "identify", contact=linked, identified=t1 - HOUR)
    how = night_and_replay(world, db, d1)
    assert how["behaviour"] == "incremental"
    # a review, a new contact, a new link: from all their events; the day's purchase and the
    # signup leaving the window are folded in; the quiet ones and the bad payer (its overdue
    # payment is worth no points) keep their rows
    assert (how["recomputed"], how["folded"]) == (3, 2), how
    second = kept_facts(db)
    signup = 10 * 0.5 ** ((365 - 5 / 24) / 90)  # what the signup was worth on D; gone on D+1
    expected = (first[leaving]["score"] - signup) * 0.5 ** (1 / 90)
    assert math.isclose(second[leaving]["score"], expected, rel_tol=1e-9)
    assert second[late]["bad_reviewer"] and not first[late]["bad_reviewer"]
    assert second[linked]["order_count"] == 1 and second[linked]["anonymous_ids"] == 1
    assert second[newcomer]["order_count"] == 1
    assert first[bad_payer]["bad_payer"] and not second[bad_payer]["bad_payer"]
    for cid in quiet:  # unchanged rows, one day more of decay
        assert math.isclose(second[cid]["score"], first[cid]["score"] * 0.5 ** (1 / 90))

    d2 = d1 + timedelta(days=1)
    anonymous(db, "A-early", t1 + 5 * HOUR)  # a linked visitor comes back
    with db.transaction() as conn:  # a contact renamed (what erasure does), events and all
        for table in ("contacts", "events"):
            conn.execute(
                text(f"update journeyflow.{table} set contact_id = 'P1' where contact_id = :c"),
                {"c": quiet[0]},
            )
    how = night_and_replay(world, db, d2)
    assert how["behaviour"] == "incremental"
    # P1 from all its events; the linked visitor's and the active contact's page views folded in
    assert (how["recomputed"], how["folded"]) == (1, 2), how
    third = kept_facts(db)
    assert quiet[0] not in third and third["P1"]["order_count"] == 2


def test_other_score_rules_or_a_replay_recompute_everyone(world, db, config):
    cid = world.contact()
    world.event(cid, "page_view", T - 3 * DAY)
    world.run(D)
    world.run(D + timedelta(days=1))
    assert how_scored(db, D + timedelta(days=1))["behaviour"] == "incremental"
    world.run(D)  # an earlier date again
    assert how_scored(db, D)["behaviour"] == "full"
    config(lambda raw: raw["rules"]["score"].update(half_life_days=30))
    world.run(D + timedelta(days=1))
    assert how_scored(db, D + timedelta(days=1))["behaviour"] == "full"
    assert math.isclose(kept_facts(db)[cid]["score"], 0.5 ** (4 / 30))


def test_a_short_half_life_neither_overflows_nor_differs_from_a_replay(world, db, config):
    config(lambda raw: raw["rules"]["score"].update(half_life_days=0.5))
    cid = world.contact()
    world.event(cid, "page_view", T - 3 * HOUR)
    world.event(cid, "newsletter_signup", T - 300 * DAY)  # 600 half-lives: nothing left
    world.run(D)
    assert math.isclose(kept_facts(db)[cid]["score"], 0.5 ** (3 / 12))
    world.event(cid, "email_click", T + 5 * HOUR)
    night_and_replay(world, db, D + timedelta(days=1))


def test_the_days_additions_fold_into_the_same_facts_as_a_replay(world, db):
    """Late events, purchases before the first and after the last, a linked visitor's late
    event: folded in. A purchase at the kept last one's very time: recomputed."""
    early = customer(world, T - 100 * DAY, T - 50 * DAY)
    tie = customer(world, T - 100 * DAY, T - 50 * DAY)
    visitor = world.contact()
    anonymous(db, "A-old", T - 90 * DAY, contact=visitor, identified=T - 90 * DAY)
    world.run(D)

    d1, t1 = D + timedelta(days=1), T + DAY
    world.event(early, "purchase", T - 200 * DAY, product="Stativ", amount=10)  # a new first
    world.event(early, "purchase", t1 - HOUR, product="Kurs", amount=20)  # a new last
    world.event(early, "unsubscribe", T - 5 * DAY, channel="email")
    world.event(early, "comment", T - 400 * DAY)  # late and out of the window: no points
    world.event(tie, "purchase", T - 50 * DAY, product="Tasche")  # the kept last one's time
    anonymous(db, "A-old", T - 20 * DAY, "purchase")  # the linked visitor's, arrived late
    how = night_and_replay(world, db, d1)
    assert (how["recomputed"], how["folded"]) == (1, 2), how
    facts = kept_facts(db)
    assert (facts[early]["first_product"], facts[early]["last_product"]) == ("Stativ", "Kurs")
    assert facts[early]["order_count"] == 4 and facts[visitor]["order_count"] == 1


def test_a_score_window_shorter_than_the_gap_folds_like_a_replay(world, db, config):
    config(lambda raw: raw["rules"]["score"].update(window_days=2))
    cid = world.contact()
    for days in (1, 3, 4):
        world.event(cid, "page_view", T - days * DAY + HOUR)
    world.event(cid, "email_click", T + 2 * DAY)  # after D+1's cut-off, before D+3's
    world.run(D)
    night_and_replay(world, db, D + timedelta(days=1))
    world.event(cid, "comment", T + DAY + HOUR)  # arrived late, already out of D+5's window
    assert night_and_replay(world, db, D + timedelta(days=5))["folded"] == 1


def test_an_event_deleted_and_inserted_again_under_another_contact_counts_once(world, db):
    """A correction by hand before the night: the purchase went to the wrong contact."""
    wrong, right = world.contact(), world.contact()
    world.run(D)
    insert = text(
        "insert into journeyflow.events (event_id, contact_id, type, occurred_at, properties, "
        "amount, product, run_date) values ('EX', :c, 'purchase', :at, '{}', 10, 'Kurs', :d)"
    )
    with db.transaction() as conn:
        conn.execute(insert, {"c": wrong, "at": T - 5 * DAY, "d": D})
    with db.transaction() as conn:
        conn.execute(text("delete from journeyflow.events where event_id = 'EX'"))
        conn.execute(insert, {"c": right, "at": T - 5 * DAY, "d": D})
    night_and_replay(world, db, D + timedelta(days=1))
    assert kept_facts(db)[right]["order_count"] == 1


def test_an_event_written_while_the_score_step_runs_counts_once(world, db, monkeypatch):
    """The step reads the events as of its start: one committed meanwhile (psql, another
    process) waits for the next night and counts there, once."""
    cid = world.contact()
    world.run(D)
    world.event(cid, "review", T - 3 * DAY, rating=4)  # recomputed on D+1 from all its events
    recompute = lifecycle.facts._behaviour
    written = []

    def meanwhile(conn, params, into, **scope):
        if scope.get("some") and not written:
            written.append(cid)
            world.event(cid, "email_click", T - 2 * DAY)  # committed in its own transaction
        return recompute(conn, params, into, **scope)

    monkeypatch.setattr(lifecycle.facts, "_behaviour", meanwhile)
    world.run(D + timedelta(days=1))
    assert written and kept_facts(db)[cid]["last_engaged_at"] is None  # not yet
    monkeypatch.setattr(lifecycle.facts, "_behaviour", recompute)
    night_and_replay(world, db, D + timedelta(days=2))
    assert kept_facts(db)[cid]["last_engaged_at"] == T - 2 * DAY
