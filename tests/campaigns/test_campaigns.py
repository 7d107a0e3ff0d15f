"""Campaign decisions as of D: audiences, steps, repeat windows, caps and reruns, against embedded
PostgreSQL and a real SMTP server (D = 2026-11-20).
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import text

from journeyflow import campaigns
from journeyflow import config as settings
from journeyflow.config import paths
from journeyflow.email import render
from tests.campaign_world import (
    decisions,
    outbox_rows,
    run_day,
    subscribed_customer,
)
from tests.world import DAY, D, T


def test_each_campaign_reaches_exactly_its_audience(db, world, cast, smtp, config):
    run_day(world, D)
    email = {cid: cid.lower() + "@example.de" for cid in cast.values()}
    assert smtp.by_campaign() == {
        "welcome_drip": {email[cast["welcome"]]},
        "tripwire_offer": {email[cast["tripwire"]]},
        "onboarding_tips": {email[cast["onboarding"]]},
        "upsell": {email[cast["upsell"]]},
        "testimonial_request": {email[cast["testimonial"]]},
        "win_back": {email[cast["win_back_email"]]},
    }
    why = {(r["contact_id"], r["campaign"]): r for r in decisions(db, D)}
    assert why[cast["upsell_bad_payer"], "upsell"]["decision"] == "excluded"
    assert "bad payer" in why[cast["upsell_bad_payer"], "upsell"]["reason"]
    assert why[cast["upsell_no_consent"], "upsell"]["reason"] == "no email consent (none)"
    assert "bad reviewer" in why[cast["win_back_bad_reviewer"], "win_back"]["reason"]
    postal = why[cast["win_back_postal"], "win_back"]
    assert (postal["channel"], postal["decision"]) == ("postal", "queued")
    assert why[cast["welcome"], "welcome_drip"]["decision"] == "sent"
    assert not any(r["contact_id"] == cast["awareness"] for r in decisions(db, D))
    # the send log sees every email, for email_dead and the caps
    with db.transaction() as conn:
        assert conn.execute(text("select count(*) from journeyflow.send_log")).scalar() == 6


def test_a_rerun_of_d_sends_nothing_twice(db, world, cast, smtp, config):
    run_day(world, D)
    before = outbox_rows(db)
    run_day(world, D)
    assert len(smtp.messages) == 6
    assert [(r["outbox_id"], r["status"]) for r in outbox_rows(db)] == [
        (r["outbox_id"], r["status"]) for r in before
    ]
    assert {r["decision"] for r in decisions(db, D) if r["channel"] == "email"} <= {
        "sent", "excluded",
    }  # fmt: skip


def test_welcome_drip_steps_over_the_days(db, world, smtp, config):
    cid = world.subscriber(T - 5 * 3600 * timedelta(seconds=1))  # confirmed on D: day 0
    sent_on = {}
    for n in range(10):
        day = D + timedelta(days=n)
        before = len(smtp.messages)
        run_day(world, day)
        for msg in smtp.messages[before:]:
            sent_on[int(msg["X-Campaign-Step"])] = n
        if n == 1:
            (row,) = decisions(db, day, cid)
            assert row["decision"] == "held" and row["reason"].startswith("step 2 is due on")
    assert sent_on == {1: 0, 2: 3, 3: 7}
    (row,) = decisions(db, D + timedelta(days=9), cid)
    # 16 days after the opt-in the contact has left the subscription phase
    assert row["campaign"] == "tripwire_offer" or row["decision"] == "excluded"


def test_repeat_window_of_upsell(db, world, smtp, config):
    cid = subscribed_customer(world, T - 60 * DAY)
    run_day(world, D)
    later = D + timedelta(days=89)
    run_day(world, later)
    (row,) = decisions(db, later, cid)
    assert row["decision"] == "held" and "again from" in row["reason"]
    run_day(world, D + timedelta(days=90))
    assert [m["X-Campaign"] for m in smtp.messages] == ["upsell", "upsell"]
    occurrences = [r["occurrence"] for r in outbox_rows(db, contact_id=cid)]
    assert occurrences == [1, 2]


def test_old_decisions_are_pruned_after_keep_decisions_days(db, world, config):
    config(lambda raw: raw["campaigns"].update(keep_decisions_days=2))
    cid = subscribed_customer(world, T - 60 * DAY)
    for n in (0, 1, 3):
        run_day(world, D + timedelta(days=n), send=False)
    assert decisions(db, D, cid) == []  # older than D+3 minus 2 days
    assert decisions(db, D + timedelta(days=1), cid)
    assert decisions(db, D + timedelta(days=3), cid)
    with db.transaction() as conn:
        details = conn.execute(
            text(
                "select details from journeyflow.pipeline_steps"
                " where run_date = :d and step = 'decide_campaigns'"
            ),
            {"d": D + timedelta(days=3)},
        ).scalar()
    assert details["decisions_pruned"] == 1


def twin_campaign(tmp_path, monkeypatch, config):
    """A second campaign for the same audience: config + templates + one SQL file, no code."""
    sql = tmp_path / "sql"
    shutil.copytree(settings.SQL_DIR, sql)
    shutil.copy(sql / "campaigns" / "welcome_drip.sql", sql / "campaigns" / "welcome_twin.sql")
    templates = tmp_path / "email_templates"
    shutil.copytree(settings.TEMPLATES_DIR, templates)
    for lang in render.LANGUAGES:
        drip = templates / lang / "welcome_drip"
        for step in (4, 5):
            for kind in render.KINDS:
                shutil.copy(drip / f"3.{kind}.j2", drip / f"{step}.{kind}.j2")
        shutil.copytree(drip, templates / lang / "welcome_twin")
    monkeypatch.setattr(paths, "SQL_DIR", sql)
    monkeypatch.setattr(paths, "TEMPLATES_DIR", templates)


def test_caps_one_per_run_date_and_three_per_week(db, world, smtp, config, tmp_path,
                                                  monkeypatch):  # fmt: skip
    twin_campaign(tmp_path, monkeypatch, config)

    def five_steps(raw):
        raw["campaigns"]["list"]["welcome_drip"]["steps"] = [0, 0, 0, 0, 0]
        raw["campaigns"]["list"]["welcome_twin"] = {"anchor": "consent_confirmed_at"}

    config(five_steps)
    cid = world.subscriber(T - 5 * 3600 * timedelta(seconds=1))
    days = {}
    for n in range(9):
        day = D + timedelta(days=n)
        before = len(smtp.messages)
        run_day(world, day)
        days[n] = [(m["X-Campaign"], m["X-Campaign-Step"]) for m in smtp.messages[before:]]
        if n == 0:
            twin = [r for r in decisions(db, day, cid) if r["campaign"] == "welcome_twin"][0]
            assert twin["decision"] == "held"
            assert twin["reason"] == "cap: 1 campaign message per run date; welcome_drip goes first"
        if n == 3:
            (row, _) = decisions(db, day, cid)
            assert row["reason"].startswith("cap: 3 campaign messages in the run dates")
    assert days == {
        0: [("welcome_drip", "1")], 1: [("welcome_drip", "2")], 2: [("welcome_drip", "3")],
        3: [], 4: [], 5: [], 6: [],
        7: [("welcome_drip", "4")],  # the run dates D+1..D+6 hold two emails
        8: [("welcome_drip", "5")],
    }  # fmt: skip


def test_plan_is_a_dry_run(db, world, cast, config):
    world.run(D)
    plan = campaigns.plan(D)
    assert plan.counts["upsell"] == {"queued": 1, "excluded": 2}
    assert plan.counts["win_back"]["queued (postal)"] == 1
    assert "excluded: bad payer (payment overdue in the last 365 days)" in plan.reasons["upsell"]
    assert outbox_rows(db) == [] and decisions(db, D) == []


def test_a_rerun_of_d_with_late_data_sends_no_second_email_for_d(db, world, smtp, config):
    cid = world.subscriber(T - 20 * DAY)  # conversion: tripwire_offer
    run_day(world, D)
    assert [m["X-Campaign"] for m in smtp.messages] == ["tripwire_offer"]
    world.event(cid, "purchase", T - 2 * DAY)  # a late order: excitement, onboarding is due
    run_day(world, D)  # the rerun of D
    assert [m["X-Campaign"] for m in smtp.messages] == ["tripwire_offer"]
    rows = {r["campaign"]: (r["decision"], r["reason"]) for r in decisions(db, D, cid)}
    assert rows["tripwire_offer"][0] == "sent"  # kept, though no longer chosen
    assert rows["onboarding_tips"] == (
        "held", "cap: 1 campaign message per run date; one went out earlier on this date",
    )  # fmt: skip
    run_day(world, D + timedelta(days=1))
    assert [m["X-Campaign"] for m in smtp.messages] == ["tripwire_offer", "onboarding_tips"]


def test_a_rerun_of_d_keeps_what_was_sent_though_the_contact_is_excluded_now(
    db, world, smtp, config
):
    cid = subscribed_customer(world, T - 60 * DAY)  # ascension: upsell
    run_day(world, D)
    world.event(cid, "payment_overdue", T - DAY)  # late data: a bad payer now
    run_day(world, D)
    assert [m["X-Campaign"] for m in smtp.messages] == ["upsell"]
    (row,) = decisions(db, D, cid)
    assert (row["campaign"], row["decision"]) == ("upsell", "sent")


def test_delays_need_something_to_count_from(db, world, config):
    config(lambda raw: raw["campaigns"]["list"]["tripwire_offer"].update(steps=[2]))
    world.subscriber(T - 20 * DAY)
    world.run(D)
    with pytest.raises(campaigns.AudienceError, match="nothing to count the days from"):
        campaigns.decide(D)


def test_decisions_need_the_facts_of_their_date(db, world, config):
    world.subscriber(T - 20 * DAY)
    world.run(D)
    with pytest.raises(campaigns.StaleFactsError, match="run the whole date again"):
        campaigns.decide(D + timedelta(days=1))
