"""Postal win-back from the rulebook to the vendor's drop: who gets a letter, and who never does."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from sqlalchemy import text

from journeyflow import campaigns
from journeyflow.cli.format import format_summary
from journeyflow.email import sender
from journeyflow.postal.drop import CONN_ID, DeliveryError
from journeyflow.postal.export import export_mailing
from journeyflow.summary import summary
from tests.world import DAY, D, T, customer


@pytest.fixture
def drop(db, tmp_path, monkeypatch):
    with db.transaction() as conn:
        conn.exec_driver_sql("truncate journeyflow.postal_rejects, journeyflow.postal_exports")
    folder = tmp_path / "drop"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "fs", "extra": {"path": str(folder)}}),
    )
    return folder


def lapsed(world, **fields):
    """A customer whose last order is 200 days old: phase at_risk."""
    return customer(world, T - 400 * DAY, T - 200 * DAY, **fields)


def win_back(db, day, cid):
    with db.transaction() as conn:
        return (
            conn.execute(
                text(
                    "select channel, decision, reason from journeyflow.v_campaign_decisions "
                    "where run_date = :d and contact_id = :c and campaign = 'win_back'"
                ),
                {"d": day, "c": cid},
            )
            .mappings()
            .one()
        )


def test_who_gets_a_letter(db, world, drop):
    no_email = lapsed(world, last_name="Brief")
    dead = lapsed(world, last_name="Stumm", house_number="2", consent_status="confirmed",
                  consent_confirmed_at=T - 500 * DAY)  # fmt: skip
    world.sent(dead, T - 100 * DAY, 3)  # three campaign emails, no open: email_dead
    reachable = lapsed(world, last_name="Mail", house_number="3", consent_status="confirmed",
                       consent_confirmed_at=T - 500 * DAY)  # fmt: skip
    objected = lapsed(world, last_name="Nein", house_number="4", postal_opt_out=True)
    unsubscribed = customer(world, T - 400 * DAY, last_name="Ruhe", house_number="5")
    world.event(unsubscribed, "unsubscribe", T - 390 * DAY, channel="postal")
    world.event(unsubscribed, "purchase", T - 200 * DAY)  # a purchase after the objection
    payer = lapsed(world, last_name="Schuld", house_number="6")
    world.event(payer, "payment_overdue", T - 30 * DAY)
    no_address = lapsed(world, street=None, last_name="Weg", house_number="7")
    world.run(D)
    campaigns.decide(D)

    assert dict(win_back(db, D, no_email)) == {
        "channel": "postal", "decision": "queued", "reason": "due: step 1",
    }  # fmt: skip
    assert win_back(db, D, dead)["channel"] == "postal"
    assert win_back(db, D, reachable)["channel"] == "email"
    for cid in (objected, unsubscribed, no_address):
        assert win_back(db, D, cid)["decision"] == "excluded"
        assert "no usable postal address or a postal objection" in win_back(db, D, cid)["reason"]
    assert win_back(db, D, payer)["reason"].startswith("bad payer")

    result = export_mailing(D, "win_back", "run-1")
    assert result["rows"] == 2
    for cid in (no_email, dead):
        assert dict(win_back(db, D, cid))["decision"] == "exported"
    csv = (drop / result["file"]).read_text(encoding="utf-8")
    assert "Brief" in csv and "Stumm" in csv and "Nein" not in csv and "Ruhe" not in csv
    assert (drop / result["file"]).with_name("mailing_win_back_2026-11-20.done").exists()

    shown = format_summary(summary(D), "success", 1.0)
    assert f"win_back letters: 2 pieces in {result['file']}, 0 rejected" in shown
    assert "warning: postal win_back 2026-11-20: 2 pieces, below the minimum of 200" in shown


def test_no_second_win_back_within_180_days_by_either_channel(db, world, drop, monkeypatch):
    cid = lapsed(world, consent_status="confirmed", consent_confirmed_at=T - 500 * DAY)
    world.run(D)
    campaigns.decide(D)
    sender.send("win_back", D)  # by email (no journeyflow_smtp: an .eml file)
    world.event(cid, "unsubscribe", T + DAY, channel="email")  # email no longer reaches them
    later = D + timedelta(days=30)
    world.run(later)
    campaigns.decide(later)
    row = win_back(db, later, cid)
    assert row["channel"] == "postal" and row["decision"] == "held"
    assert row["reason"].startswith(f"repeat window: last sent {D}")
    day_180 = D + timedelta(days=180)
    world.run(day_180)
    campaigns.decide(day_180)
    assert win_back(db, day_180, cid)["decision"] == "queued"


def test_a_rerun_exports_nothing_twice(db, world, drop):
    lapsed(world)
    world.run(D)
    campaigns.decide(D)
    first = export_mailing(D, "win_back", "run-1")
    data = (drop / first["file"]).read_bytes()
    campaigns.decide(D)
    again = export_mailing(D, "win_back", "run-2")
    assert again["delivered"] == 0 and (drop / first["file"]).read_bytes() == data
    with db.transaction() as conn:
        assert (
            conn.exec_driver_sql(
                "select count(*) from journeyflow.send_log where channel = 'postal'"
            ).scalar()
            == 1
        )


def test_a_household_gets_one_letter_and_no_second_one_the_next_day(db, world, drop):
    kept, other = sorted(lapsed(world, last_name="Meier", first_name=n) for n in ("Anna", "Bernd"))
    world.run(D)
    campaigns.decide(D)
    first = export_mailing(D, "win_back", "run-1")
    assert first["rows"] == 1
    assert dict(win_back(db, D, other)) == {
        "channel": "postal", "decision": "excluded", "reason": f"household: same as {kept}",
    }  # fmt: skip
    campaigns.decide(D)  # a rerun of D changes neither the decisions nor the file
    assert export_mailing(D, "win_back", "run-2")["sha256"] == first["sha256"]
    assert win_back(db, D, other)["decision"] == "excluded"

    later = D + timedelta(days=1)
    world.run(later)
    campaigns.decide(later)
    assert win_back(db, later, other)["reason"].startswith(f"repeat window: last sent {D}")
    assert export_mailing(later, "win_back", "run-3")["rows"] == 0


def test_letters_count_for_the_caps(db, world, drop):
    cid = world.subscriber(T - 20 * DAY)  # tripwire_offer is due by email
    world.run(D)
    with db.transaction() as conn:
        for n in (1, 2, 3):  # three letters of the last days
            conn.execute(
                text(
                    "insert into journeyflow.outbox (contact_id, campaign, step, occurrence,"
                    " channel, run_date, status) values (:c, 'win_back', 1, :n, 'postal', :d,"
                    " 'exported')"
                ),
                {"c": cid, "n": n, "d": D - timedelta(days=n)},
            )
    campaigns.decide(D)
    with db.transaction() as conn:
        reason = conn.execute(
            text(
                "select reason from journeyflow.v_campaign_decisions"
                " where run_date = :d and contact_id = :c and campaign = 'tripwire_offer'"
            ),
            {"d": D, "c": cid},
        ).scalar_one()
    assert reason.startswith("cap: 3 campaign messages in the run dates")


def test_an_objection_before_the_delivery_takes_the_letter_out(db, world, drop, monkeypatch):
    kept, dup = sorted(lapsed(world, last_name="Paar", first_name=n) for n in ("Yvonne", "Xaver"))
    other = lapsed(world, last_name="Weit", house_number="9")
    world.run(D)
    campaigns.decide(D)
    env = f"AIRFLOW_CONN_{CONN_ID.upper()}"
    working = os.environ[env]
    monkeypatch.setenv(env, json.dumps({"conn_type": "fs"}))  # no path: the delivery fails
    with pytest.raises(DeliveryError):
        export_mailing(D, "win_back", "run-1")
    with db.transaction() as conn:  # the kept household member objects before the retry
        conn.execute(
            text("update journeyflow.contacts set postal_opt_out = true where contact_id = :c"),
            {"c": kept},
        )
    monkeypatch.setenv(env, working)
    result = export_mailing(D, "win_back", "run-2")
    rows = (drop / result["file"]).read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(row.split(";")[0] for row in rows) == sorted([dup, other])
    assert json.loads((drop / result["file"]).with_suffix(".manifest.json").read_text())[
        "run_id"
    ] == "run-1"  # fmt: skip
    assert dict(win_back(db, D, kept)) == {
        "channel": "postal", "decision": "excluded", "reason": "objected to postal advertising",
    }  # fmt: skip
    assert win_back(db, D, dup)["decision"] == "exported"
    assert export_mailing(D, "win_back", "run-3")["sha256"] == result["sha256"]
