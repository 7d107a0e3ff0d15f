"""The default rulebook on embedded PostgreSQL: every phase and flag at its boundaries.

D = 2026-11-20, so the cut-off T is 2026-11-21 00:00 Europe/Berlin (= 2026-11-20 23:00 UTC).
"Just meets" and "just misses" differ by one second.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from journeyflow import lifecycle
from tests.world import BERLIN, DAY, SEC, D, T, customer

# -- phases at their boundaries ------------------------------------------------------------------


def test_at_risk_last_order_before_t_minus_180_days(world):
    meets = customer(world, T - 200 * DAY, T - 180 * DAY - SEC)
    misses = customer(world, T - 200 * DAY, T - 180 * DAY)  # exactly T-180d is not before it
    world.run()
    assert world.phase(meets) == "at_risk"
    assert world.phase(misses) == "ascension"


def test_at_risk_needs_no_engagement_in_the_last_90_days(world):
    quiet = customer(world, T - 300 * DAY)
    world.event(quiet, "page_view", T - 90 * DAY - SEC)
    engaged = customer(world, T - 300 * DAY)
    world.event(engaged, "email_click", T - 90 * DAY)  # exactly T-90d is within the 90 days
    world.run()
    assert world.phase(quiet) == "at_risk"
    assert world.phase(engaged) == "ascension"


def test_promoter_referral_within_365_days(world):
    meets = customer(world, T - 40 * DAY)
    world.event(meets, "referral", T - 365 * DAY)
    misses = customer(world, T - 40 * DAY)
    world.event(misses, "referral", T - 365 * DAY - SEC)
    world.run()
    assert world.phase(meets) == "promoter"
    assert world.phase(misses) == "ascension"


@pytest.mark.parametrize(
    ("orders", "ratings", "phase"),
    [
        (3, [4, 4], "advocate"),  # average exactly 4
        (3, [5, 3], "advocate"),  # average 4, lowest 3
        (3, [5, 5, 2], "ascension"),  # average 4 but one review of 2
        (3, [4, 3], "ascension"),  # average 3.5
        (2, [5], "ascension"),  # too few orders
        (3, [], "ascension"),  # no review at all
    ],
)
def test_advocate(world, orders, ratings, phase):
    cid = world.contact()
    for n in range(orders):
        world.event(cid, "purchase", T - (100 + n) * DAY)
    for r in ratings:
        world.event(cid, "review", T - 10 * DAY, rating=r)
    world.run()
    assert world.phase(cid) == phase


def test_excitement_turns_into_ascension_30_days_after_the_first_order(world):
    fresh = customer(world, T - 30 * DAY)  # exactly T-30d: still in the last 30 days
    older = customer(world, T - 30 * DAY - SEC)
    world.run()
    assert world.phase(fresh) == "excitement"
    assert world.phase(older) == "ascension"


def test_subscription_and_conversion_at_14_days_after_confirmation(world):
    fresh = world.subscriber(T - 14 * DAY)  # confirmed exactly 14 days before T
    older = world.subscriber(T - 14 * DAY - SEC)
    world.run()
    assert world.phase(fresh) == "subscription"
    assert world.phase(older) == "conversion"


def test_engagement_needs_a_score_of_ten(world):
    meets, misses = world.contact(), world.contact()
    for _ in range(11):
        world.event(meets, "page_view", T - SEC)  # 11 points, decayed by a second: just over 10
    for _ in range(10):
        world.event(misses, "page_view", T - SEC)  # 10 points decayed by a second: just under
    world.run()
    assert world.phase(meets) == "engagement"
    assert world.phase(misses) == "awareness"


def test_score_halves_every_90_days_and_forgets_after_365(world):
    cid = world.contact()
    t = T.astimezone(UTC)  # ages are elapsed time: count in UTC across the DST change
    world.event(cid, "purchase", t - 90 * DAY)  # 20 points * 0.5
    world.event(cid, "newsletter_signup", t - 180 * DAY)  # 10 * 0.25
    world.event(cid, "referral", T - 365 * DAY - SEC)  # too old to count
    world.run()
    with world.db.transaction() as conn:
        score, level = conn.execute(
            text("select score, engagement_level from journeyflow.v_contact_phase "
                 "where contact_id = :c"), {"c": cid},
        ).one()  # fmt: skip
    assert score == pytest.approx(12.5) and level == "warm"


def test_first_match_wins(world):
    both = customer(world, T - 400 * DAY, T - 200 * DAY)  # at_risk and promoter at once
    world.event(both, "referral", T - 100 * DAY)
    world.run()
    assert world.phase(both) == "at_risk"


def test_an_order_at_2330_berlin_on_d_counts_for_d(world):
    late = world.contact()
    world.event(late, "purchase", datetime(2026, 11, 20, 23, 30, tzinfo=BERLIN))
    tomorrow = world.contact()
    world.event(tomorrow, "purchase", datetime(2026, 11, 21, 0, 0, tzinfo=BERLIN))
    world.run()
    assert world.phase(late) == "excitement"
    assert world.flags(tomorrow)["order_count"] == 0


# -- flags ---------------------------------------------------------------------------------------


def test_email_ok(world):
    ok = world.subscriber(T - 100 * DAY)
    world.event(ok, "unsubscribe", T - 200 * DAY, channel="email")  # before the new opt-in
    world.event(ok, "email_bounce", T - 10 * DAY, kind="soft")
    unsubscribed = world.subscriber(T - 100 * DAY)
    world.event(unsubscribed, "unsubscribe", T - 10 * DAY, channel="email")
    bounced = world.subscriber(T - 100 * DAY)
    world.event(bounced, "email_bounce", T - 10 * DAY, kind="hard")
    no_proof = world.contact(consent_status="confirmed")
    broken = world.subscriber(T - 100 * DAY, email_valid=False)
    pending = world.contact(consent_status="pending")
    world.run()
    assert world.flags(ok)["email_ok"] is True
    for cid in (unsubscribed, bounced, no_proof, broken, pending):
        assert world.flags(cid)["email_ok"] is False, cid
        assert world.flags(cid)["email_dead"] is True


def test_email_dead_after_three_unanswered_campaign_emails(world):
    dead = world.subscriber(T - 300 * DAY)
    world.sent(dead, T - 100 * DAY, 3)
    alive = world.subscriber(T - 300 * DAY)
    world.sent(alive, T - 100 * DAY, 3)
    world.event(alive, "email_open", T - 50 * DAY)
    two = world.subscriber(T - 300 * DAY)
    world.sent(two, T - 100 * DAY, 2)
    world.run()
    assert world.flags(dead)["email_dead"] is True
    assert world.flags(alive)["email_dead"] is False
    assert world.flags(two)["email_dead"] is False


def test_postal_ok(world):
    ok_de = world.contact(postal_code="01067")
    ok_at = world.contact(country="AT", postal_code="1010")
    short_de = world.contact(postal_code="1067")
    no_street = world.contact(street=None)
    opted_out = world.contact(postal_opt_out=True)
    objected = world.contact()
    world.event(objected, "unsubscribe", T - 5 * DAY, channel="postal")
    returned = world.contact(address_changed_at=T - 100 * DAY)
    world.event(returned, "postal_return", T - 50 * DAY)
    moved = world.contact(address_changed_at=T - 10 * DAY)
    world.event(moved, "postal_return", T - 50 * DAY)  # the letter went to the old address
    world.run()
    for cid in (ok_de, ok_at, moved):
        assert world.flags(cid)["postal_ok"] is True, cid
    for cid in (short_de, no_street, opted_out, objected, returned):
        assert world.flags(cid)["postal_ok"] is False, cid


def test_bad_payer_within_365_days_and_bad_reviewer_ever(world):
    payer = world.contact()
    world.event(payer, "payment_overdue", T - 365 * DAY)
    old_debt = world.contact()
    world.event(old_debt, "payment_overdue", T - 365 * DAY - SEC)
    harsh = world.contact()
    world.event(harsh, "review", T - 3000 * DAY, rating=2)
    fair = world.contact()
    world.event(fair, "review", T - 3 * DAY, rating=3)
    world.run()
    assert world.flags(payer)["bad_payer"] and not world.flags(old_debt)["bad_payer"]
    assert world.flags(harsh)["bad_reviewer"] and not world.flags(fair)["bad_reviewer"]


# -- history, time travel, files ------------------------------------------------------------------


def test_time_travel_excitement_ascension_at_risk_with_history(world):
    bought = T - 5 * DAY
    cid = customer(world, bought)
    days = [D, D + timedelta(days=40), D + timedelta(days=200)]
    for day in days:
        world.run(day)
    world.run(days[-1])  # re-running the last date changes nothing
    with world.db.transaction() as conn:
        history = conn.execute(
            text("select phase, entered_at, left_at from journeyflow.v_phase_history "
                 "where contact_id = :c order by entered_at"), {"c": cid},
        ).all()  # fmt: skip
        moves = conn.execute(
            text("select from_phase, to_phase from journeyflow.phase_transitions "
                 "where contacts > 0 order by run_date")
        ).all()  # fmt: skip
    assert [h.phase for h in history] == ["excitement", "ascension", "at_risk"]
    assert history[0].left_at == history[1].entered_at and history[2].left_at is None
    assert [tuple(m) for m in moves] == [
        ("(new)", "excitement"),
        ("excitement", "ascension"),
        ("ascension", "at_risk"),
    ]


def test_a_new_phase_file_needs_no_code(world, tmp_path):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "35_vip.sql").write_text(
        "-- phase: vip\n-- rule: Customers with 1,000 or more in revenue.\n"
        "select contact_id from facts where revenue >= 1000\n"
    )
    vip = world.contact()
    world.event(vip, "purchase", T - 100 * DAY, amount=1200)
    regular = customer(world, T - 100 * DAY)
    world.run(phases_dir=phases)
    assert world.phase(vip) == "vip" and world.phase(regular) == "ascension"


def test_phases_check_names_the_broken_file_and_line(world, tmp_path):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "35_vip.sql").write_text(
        "-- phase: vip\n-- rule: Big spenders.\nselect contact_id\nform facts\nwhere revenue > 1\n"
    )
    (phases / "36_vip_too.sql").write_text(
        "-- phase: vip_too\n-- rule: Two columns.\nselect contact_id, revenue from facts\n"
    )
    (phases / "40_again.sql").write_text(
        "-- phase: again\n-- rule: Same priority.\nselect contact_id from facts\n"
    )
    errors, warnings = lifecycle.check_phases(phases)
    assert any(e.startswith("sql/phases/35_vip.sql: line 4: syntax error") for e in errors), errors
    assert any("36_vip_too.sql: selects ['contact_id', 'revenue']" in w for w in warnings)
    assert any("priority 40 is also used" in w for w in warnings)
    assert lifecycle.check_phases()[0] == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("select contact_id\nform facts\n", "sql/phases/35_vip.sql: line 4: syntax error"),
        ("select contact_id from facts where 1 / (order_count * 0) = 1\n", "division by zero"),
    ],
)
def test_a_phase_file_that_fails_in_the_run_is_named(world, tmp_path, body, says):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "35_vip.sql").write_text(f"-- phase: vip\n-- rule: Broken.\n{body}")
    customer(world, T - 100 * DAY)
    with pytest.raises(lifecycle.phases.PhaseFileError, match="35_vip.sql") as failed:
        world.run(phases_dir=phases)
    assert says in str(failed.value)


def test_plain_phase_files_are_one_pass_and_the_others_keep_their_priority(world, tmp_path):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "05_vip.sql").write_text(  # not a plain filter: a join, read on its own
        "-- phase: vip\n-- rule: Dresden's big spenders.\n"
        "select f.contact_id from facts f join journeyflow.contacts c using (contact_id)\n"
        "where c.city = 'Dresden' and f.revenue >= 1000\n"
    )
    (phases / "95_never.sql").write_text(  # after awareness, which takes everyone else
        "-- phase: never\n-- rule: Nobody.\nselect contact_id from facts f\n"
    )
    rules = lifecycle.phases.load_phases(phases)
    plain = {r.phase for r in rules if lifecycle.phases.condition(r)}
    assert plain == {r.phase for r in rules} - {"vip", "never"}
    assert lifecycle.phases.matches(rules).count("union all") == 2
    vip = world.contact()
    world.event(vip, "purchase", T - 300 * DAY, amount=1200)  # at risk too, which comes later
    at_risk = customer(world, T - 300 * DAY)
    world.run(phases_dir=phases)
    assert (world.phase(vip), world.phase(at_risk)) == ("vip", "at_risk")
    with world.db.transaction() as conn:
        never = conn.execute(
            text("select contacts from journeyflow.phase_counts where phase = 'never'")
        ).scalar()
    assert never == 0


@pytest.mark.parametrize(
    "body",
    [
        "select contact_id from facts where revenue >= 1000 for update\n",  # not in a case
        "select contact_id from facts where last_product in ('Kurs\n--Spezial', 'Stativ')\n",
    ],
)
def test_a_phase_file_that_is_no_plain_filter_runs_as_written(world, tmp_path, body):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "05_vip.sql").write_text(f"-- phase: vip\n-- rule: Big spenders.\n{body}")
    assert lifecycle.phases.condition(lifecycle.phases.load_phases(phases)[0]) is None
    vip = world.contact()
    world.event(vip, "purchase", T - 10 * DAY, amount=1200, product="Stativ")
    world.run(phases_dir=phases)
    assert world.phase(vip) == "vip"


def test_a_phase_file_that_selects_no_contact_is_named(world, tmp_path):
    phases = tmp_path / "phases"
    shutil.copytree(lifecycle.PHASES_DIR, phases)
    (phases / "35_vip.sql").write_text(
        "-- phase: vip\n-- rule: Broken.\nselect null as contact_id from facts where revenue > 0\n"
    )
    customer(world, T - 100 * DAY)
    with pytest.raises(lifecycle.phases.PhaseFileError, match="35_vip.sql") as failed:
        world.run(phases_dir=phases)
    assert "without a contact_id" in str(failed.value)


def test_an_earlier_date_run_again_is_counted_but_kept_out_of_the_history(world):
    cid = customer(world, T - 5 * DAY)
    later = D + timedelta(days=40)
    world.run(D)
    world.run(later)

    def history():
        with world.db.transaction() as conn:
            return conn.execute(
                text("select phase, entered_run_date, left_run_date from journeyflow.phase_history "
                     "where contact_id = :c order by entered_run_date"), {"c": cid},
            ).all()  # fmt: skip

    before = history()
    world.run(D)
    assert history() == before and [h.phase for h in before] == ["excitement", "ascension"]
    with world.db.transaction() as conn:
        counted = conn.execute(
            text("select phase from journeyflow.phase_counts where run_date = :d and contacts > 0"),
            {"d": D},
        ).scalars().all()  # fmt: skip
    assert counted == ["excitement"]
