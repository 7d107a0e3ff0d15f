"""Attribution and results: the window's edges to the second, revenue, open and closed windows,
a crafted dataset against a hand computation, ``journeyflow results`` and the cockpit's page
(D = 2026-11-20, T(D) = 2026-11-21 00:00 Berlin)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from journeyflow.cli import main
from journeyflow.learn import results
from journeyflow.learn.stats import newcombe, verdict, wilson
from tests.world import DAY, SEC, D, T


def put(db, contact_id, campaign="tripwire_offer", variant="main", status="sent", run_date=D,
        step=1):  # fmt: skip
    with db.transaction() as conn:
        conn.execute(
            text(
                "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, channel, "
                "run_date, status, variant) values (:c, :camp, :s, 1, 'email', :d, :st, :v)"
            ),
            {
                "c": contact_id,
                "camp": campaign,
                "s": step,
                "d": run_date,
                "st": status,
                "v": variant,
            },  # fmt: skip
        )


def stored(db):
    with db.transaction() as conn:
        return [dict(r) for r in conn.execute(text(
            "select * from journeyflow.campaign_results order by campaign, step, variant, run_date"
        )).mappings()]  # fmt: skip


def test_the_window_counts_exactly_the_purchases_inside_it(db, world):
    cid = world.contact()
    put(db, cid)
    end = T + 7 * DAY
    for at, amount in ((T - SEC, 1), (T, 10), (T + 3 * DAY, 20), (end - SEC, 40), (end, 80)):
        world.event(cid, "purchase", at, amount=amount)
    world.event(cid, "page_view", T + DAY)
    never = world.contact()  # reached, never bought
    put(db, never)
    results.fill(D + timedelta(days=7))  # the window of D has closed by T(D+7)
    (row,) = stored(db)
    assert (row["contacts"], row["converted"], float(row["revenue"])) == (2, 1, 70.0)
    assert row["window_start"] == T and row["window_end"] == end
    assert not row["window_open"]


def test_an_open_window_is_counted_as_far_as_it_goes_then_finished(db, world):
    cid = world.contact()
    put(db, cid)
    world.event(cid, "purchase", T + DAY + SEC, amount=5)  # on D+2: after T(D+1), before T(D+2)
    world.event(cid, "purchase", T + 5 * DAY, amount=7)
    results.fill(D + timedelta(days=1))
    (row,) = stored(db)
    assert (row["converted"], row["window_open"], row["counted_until"]) == (0, True, T + DAY)
    results.fill(D + timedelta(days=2))
    (row,) = stored(db)
    assert (row["converted"], float(row["revenue"]), row["window_open"]) == (1, 5.0, True)
    results.fill(D + timedelta(days=7))
    (row,) = stored(db)
    assert (float(row["revenue"]), row["window_open"]) == (12.0, False)
    results.fill(D + timedelta(days=8))  # a closed window is final: not counted again
    assert results.fill(D + timedelta(days=9)).rows_in == 0


def test_a_crafted_result_equals_the_hand_computation(db, world):
    """Newcombe (1998), example (a): 56/70 against 48/80, difference 0.2, 95 % CI 0.0524 to
    0.3339. Here 56 of 70 reached contacts and 48 of 80 held out ones bought."""
    for i in range(70):
        cid = world.contact(contact_id=f"R{i}")
        put(db, cid)
        if i < 56:
            world.event(cid, "purchase", T + DAY, amount=10)
    for i in range(80):
        cid = world.contact(contact_id=f"H{i}")
        put(db, cid, variant="holdout", status="held_out")
        if i < 48:
            world.event(cid, "purchase", T + 2 * DAY, amount=10)
    put(db, world.contact(), status="bounced")  # not reached: not counted
    results.fill(D + timedelta(days=7))
    res = results.read_results(campaign="tripwire_offer")
    reached, held = res.rows
    assert (reached.variant, reached.contacts, reached.converted) == ("main", 70, 56)
    assert (held.variant, held.contacts, held.converted) == ("holdout", 80, 48)
    assert reached.rate == 0.8 and reached.revenue_per_contact == 8.0
    assert reached.against == "holdout" and reached.uplift == pytest.approx(0.2)
    assert (round(reached.low, 4), round(reached.high, 4)) == (0.0524, 0.3339)
    assert reached.verdict.startswith("Converted better than the holdout by +20.0 points")


def test_newcombe_and_wilson_match_the_published_values():
    # Newcombe (1998), table II, method 10, examples (a) and (b)
    assert [round(x, 4) for x in vars(newcombe(56, 70, 48, 80)).values()] == [0.2, 0.0524, 0.3339]
    assert [round(x, 4) for x in vars(newcombe(9, 10, 3, 10)).values()] == [0.6, 0.1705, 0.8090]
    # Wilson (Newcombe 1998b): 81/263 -> 0.2553 to 0.3662
    assert [round(x, 4) for x in wilson(81, 263)] == [0.2553, 0.3662]
    assert verdict(3, 20, 1, 500).startswith("Too small to tell yet: 20 contacts")
    assert "includes zero" in verdict(10, 100, 9, 100)


def test_results_cli_and_the_cockpit_page(db, world, capsys):
    from fastapi.testclient import TestClient

    from journeyflow.cockpit.app import create_app
    from journeyflow.cockpit.auth import Viewer, viewer
    from journeyflow.runlog import StepResult, record_step

    for i in range(80):
        cid = world.contact(contact_id=f"V{i}")
        put(db, cid, campaign="upsell", variant="a" if i % 2 else "b")
        if i % 4 == 0:
            world.event(cid, "purchase", T + DAY, amount=30)
    results.fill(D + timedelta(days=7))
    assert main(["results", "--campaign", "upsell"]) == 0
    out = capsys.readouterr().out
    assert "upsell" in out and "variant a" in out and "Newcombe" in out
    assert main(["results", "--campaign", "upsell", "--json"]) == 0
    rows = __import__("json").loads(capsys.readouterr().out)["rows"]
    b = next(r for r in rows if r["variant"] == "b")
    assert (b["contacts"], b["converted"], b["compared_with"]) == (40, 20, "a")
    assert main(["results", "--campaign", "upsel"]) == 2
    assert "no campaign 'upsel'" in capsys.readouterr().err

    with db.transaction() as conn:  # the cockpit's pages need a run date
        record_step(conn, D + timedelta(days=7), StepResult("measure_results"))
    app = create_app()
    app.dependency_overrides[viewer] = lambda: Viewer("ops", editor=False)
    client = TestClient(app, root_path="/journeyflow")
    twin = client.get(f"/api/results?date={D + timedelta(days=7)}").json()
    assert twin["rows"] == rows
    page = client.get(f"/results?date={D + timedelta(days=7)}")
    assert page.status_code == 200 and "Converted better than variant a" in page.text
    assert "<svg" in page.text


def test_the_win_back_response_by_months_since_the_last_order(db, world):
    """Seed 002: "when is it no longer worth contacting someone again?"."""
    from journeyflow.lifecycle.reports import read_report, report

    def lapsed(months, bought, status="sent"):
        cid = world.contact()
        world.event(cid, "purchase", T - timedelta(days=30.44 * months + 3), amount=50)
        put(db, cid, campaign="win_back", status=status,
            variant="holdout" if status == "held_out" else "main")  # fmt: skip
        if bought:
            world.event(cid, "purchase", T + 2 * DAY, amount=25)

    for months, bought in ((7, True), (7, True), (7, False), (13, True), (13, False),
                           (13, False), (13, False)):  # fmt: skip
        lapsed(months, bought)
    lapsed(7, False, "held_out")
    lapsed(7, True, "bounced")  # not reached: not counted
    report(D + timedelta(days=6))  # the window is still open: nothing shown yet
    assert read_report(D + timedelta(days=6))["winback"] == []
    report(D + timedelta(days=7))
    rows = {r["months_since_order"]: r for r in read_report(D + timedelta(days=7))["winback"]}
    assert {m: (r["reached"], r["reached_converted"], r["holdout"], r["holdout_converted"])
            for m, r in rows.items()} == {7: (3, 2, 1, 0), 13: (4, 1, 0, 0)}  # fmt: skip
    assert float(rows[7]["revenue"]) == 50.0
    from fastapi.testclient import TestClient

    from journeyflow.cockpit.app import create_app
    from journeyflow.cockpit.auth import Viewer, viewer

    app = create_app()
    app.dependency_overrides[viewer] = lambda: Viewer("ops", editor=False)
    page = TestClient(app, root_path="/journeyflow").get(f"/reports?date={D + timedelta(days=7)}")
    assert "Win-back response" in page.text and "7 months" in page.text  # the chart's bars
