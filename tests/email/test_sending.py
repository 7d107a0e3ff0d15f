"""Sending through a real SMTP server on localhost: headers, retries, refusals at every stage,
bounces, the .eml outbox without SMTP (D = 2026-11-20).
"""

from __future__ import annotations

import email
import json
import os
import shutil
from datetime import timedelta
from email import policy

import pytest

from journeyflow import campaigns
from journeyflow import config as settings
from journeyflow.email import sender, transport
from tests.campaign_world import (
    decisions,
    one_connection,
    outbox_rows,
    queued_tripwire,
    run_day,
    subscribed_customer,
)
from tests.world import DAY, D, T


def test_every_email_carries_its_headers_and_a_visible_unsubscribe_link(db, world, cast, smtp,
                                                                       config):  # fmt: skip
    run_day(world, D)
    for msg in smtp.messages:
        row = outbox_rows(db, message_id=str(msg["Message-ID"]))[0]
        assert msg["X-Campaign"] == row["campaign"] and msg["X-Campaign-Step"] == str(row["step"])
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = str(msg["List-Unsubscribe"]).strip("<>")
        assert url.startswith(settings.load_config().campaigns.unsubscribe_url)
        assert url in msg.get_body(("plain",)).get_content()
        assert url.replace("&", "&amp;") in msg.get_body(("html",)).get_content()
        assert msg["From"] == "news@shop.example"


def test_4xx_is_retried_within_the_run(db, world, smtp, config):
    cid = world.subscriber(T - 20 * DAY)
    smtp.refuse[f"{cid.lower()}@example.de"] = [451, 451]
    run_day(world, D)
    assert len(smtp.messages) == 1
    assert outbox_rows(db, contact_id=cid)[0]["status"] == "sent"


def test_4xx_that_persists_waits_for_a_later_run(db, world, smtp, config):
    cid = world.subscriber(T - 20 * DAY)
    smtp.refuse[f"{cid.lower()}@example.de"] = [451] * 3
    run_day(world, D)
    (row,) = outbox_rows(db, contact_id=cid)
    assert row["status"] == "queued" and row["last_error"].startswith("451")
    assert row["next_attempt_at"] is not None and not smtp.messages
    assert decisions(db, D, cid)[0]["decision"] == "queued"
    with db.transaction() as conn:  # an hour later
        conn.exec_driver_sql("update journeyflow.outbox set next_attempt_at = now()")
    sender.send("tripwire_offer", D + timedelta(days=1))
    assert len(smtp.messages) == 1 and outbox_rows(db, contact_id=cid)[0]["status"] == "sent"


def test_5xx_is_a_hard_bounce_and_suppressed_next_run(db, world, smtp, config):
    cid = subscribed_customer(world, T - 60 * DAY)  # upsell; its audience does not need email
    smtp.refuse[f"{cid.lower()}@example.de"] = [550]
    run_day(world, D)
    assert outbox_rows(db, contact_id=cid)[0]["status"] == "bounced"
    assert decisions(db, D, cid)[0]["decision"] == "bounced"
    next_day = D + timedelta(days=1)
    run_day(world, next_day)
    (row,) = decisions(db, next_day, cid)
    assert row["decision"] == "excluded"
    assert row["reason"] == "address rejected by the mail server (5xx)"
    assert not smtp.messages


def test_smtp_unreachable_fails_with_messages_still_queued(db, world, config, monkeypatch):
    from journeyflow.local.stack import free_port
    from tests.smtp_sink import smtp_connection

    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", smtp_connection(free_port()))
    cid = world.subscriber(T - 20 * DAY)
    world.run(D)
    campaigns.decide(D)
    with pytest.raises(transport.SenderError, match="unreachable after 3 attempts"):
        sender.send("tripwire_offer", D)
    assert outbox_rows(db, contact_id=cid)[0]["status"] == "queued"


def test_without_smtp_connection_emails_become_eml_files(db, world, config):
    world.subscriber(T - 20 * DAY)
    run_day(world, D)
    files = list((settings.home() / "outbox" / str(D) / "tripwire_offer").glob("*.eml"))
    assert len(files) == 1 and b"X-Campaign: tripwire_offer" in files[0].read_bytes()
    shutil.rmtree(settings.home() / "outbox")


def test_a_sender_name_with_umlauts_is_encoded(db, world, config):
    sender = {"from": "Fotohaus Müller <news@fotohaus.example>"}
    config(lambda raw: raw["campaigns"]["sender"].update(sender))
    world.subscriber(T - 20 * DAY)
    run_day(world, D)
    (path,) = (settings.home() / "outbox" / str(D) / "tripwire_offer").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert str(msg["From"]) == "Fotohaus Müller <news@fotohaus.example>"
    shutil.rmtree(settings.home() / "outbox")


def test_queued_mail_is_not_sent_after_the_contact_unsubscribed(db, world, smtp, config,
                                                                monkeypatch):  # fmt: skip
    from fastapi.testclient import TestClient

    from journeyflow import unsubscribe
    from journeyflow.local.stack import free_port
    from tests.smtp_sink import smtp_connection

    cid = subscribed_customer(world, T - 60 * DAY)  # upsell
    world.run(D)
    campaigns.decide(D)
    (row,) = outbox_rows(db, contact_id=cid)
    token = unsubscribe.make_token(cid, "upsell")
    down = smtp_connection(free_port())
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", down)
    with pytest.raises(transport.SenderError):
        sender.send("upsell", D)  # the mail server is down tonight: the email stays queued
    assert TestClient(unsubscribe.create_app()).post(f"/u/{token}").status_code == 200
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", smtp_connection(smtp.port))
    sender.send("upsell", D + timedelta(days=1))
    assert not smtp.messages
    (row,) = outbox_rows(db, contact_id=cid)
    assert row["status"] == "cancelled" and "suppressed" in row["last_error"]


def test_a_relay_refusal_stops_sending_and_suppresses_nobody(db, world, smtp, config):
    config(one_connection)
    for cid in queued_tripwire(db, world, 4):
        smtp.refuse[f"{cid.lower()}@example.de"] = ["550 5.7.1 Relaying denied"]
    with pytest.raises(transport.SenderError, match="refused 3 messages in a row"):
        sender.send("tripwire_offer", D)
    assert {r["status"] for r in outbox_rows(db)} == {"queued"}
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.suppressions").scalar() == 0


def test_a_refused_sender_address_stops_sending(db, world, smtp, config):
    world.subscriber(T - 20 * DAY)
    smtp.refuse_mail.append("553 5.7.1 Sender address rejected: not owned by user")
    world.run(D)
    campaigns.decide(D)
    with pytest.raises(transport.SenderError, match="refuses to send for us"):
        sender.send("tripwire_offer", D)
    assert outbox_rows(db)[0]["status"] == "queued"


def test_one_refused_recipient_or_message_never_blocks_the_others(db, world, smtp, config):
    config(one_connection)
    cids = queued_tripwire(db, world, 6)
    first, fine, policy, content, gone, quoted = (f"{c.lower()}@example.de" for c in cids)
    smtp.refuse[first] = ["554 5.7.1 Recipient rejected by policy"] * 2  # before any success
    smtp.refuse[policy] = ["554 5.7.1 Recipient rejected by policy"]  # after a success
    smtp.refuse_data[content] = ["550 Message rejected"]  # no enhanced code, after DATA
    smtp.refuse[gone] = ["550 5.4.1 Recipient address rejected: Access denied"]
    smtp.refuse[quoted] = [f"550 5.1.1 <{quoted}>: Recipient address rejected"]
    sender.send("tripwire_offer", D)
    status = {r["contact_id"]: (r["status"], r["last_error"]) for r in outbox_rows(db)}
    assert status[cids[0]][0] == "queued"  # deferred to a later run, not failed
    assert status[cids[1]][0] == "sent"
    assert status[cids[2]][0] == "queued" and "5.7.1" in status[cids[2]][1]
    assert status[cids[3]][0] == "queued" and "550 Message rejected" in status[cids[3]][1]
    assert status[cids[4]][0] == "bounced" and status[cids[5]][0] == "bounced"
    assert "<address>" in status[cids[5]][1] and "@" not in status[cids[5]][1]
    with db.transaction() as conn:
        suppressed = conn.exec_driver_sql(
            "select contact_id from journeyflow.suppressions order by 1"
        ).all()
        details = conn.exec_driver_sql(
            "select details::text from journeyflow.pipeline_steps where starts_with(step, 'send.')"
        ).all()
    assert [c for (c,) in suppressed] == sorted([cids[4], cids[5]])
    assert not any("@example.de" in d for (d,) in details)


def test_a_message_refused_after_data_waits_and_is_not_in_doubt(db, world, smtp, config):
    cid = world.subscriber(T - 20 * DAY)
    smtp.refuse_data[f"{cid.lower()}@example.de"] = ["554 5.6.0 Message content rejected"]
    run_day(world, D)
    (row,) = outbox_rows(db, contact_id=cid)
    assert row["status"] == "queued" and row["attempts"] == 1 and "554" in row["last_error"]


def test_a_quota_after_some_messages_stops_the_run_and_suppresses_nobody(db, world, smtp, config):
    config(one_connection)
    cids = queued_tripwire(db, world, 5)
    for cid in cids[1:]:
        smtp.refuse[f"{cid.lower()}@example.de"] = ["550 5.4.5 Daily user sending quota exceeded"]
    with pytest.raises(transport.SenderError, match="refused 3 messages in a row"):
        sender.send("tripwire_offer", D)
    assert [r["status"] for r in outbox_rows(db)] == ["sent"] + ["queued"] * 4
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.suppressions").scalar() == 0


@pytest.mark.parametrize(
    ("reply", "scrubbed"),
    [
        ("550 5.1.1 <kunde1@example.de>: Recipient address rejected",
         "550 5.1.1 <address>: Recipient address rejected"),
        ("550 5.1.1 <o'brien@example.de> unknown", "550 5.1.1 <address> unknown"),
        ('550 "john doe"@example.de unknown', "550 <address> unknown"),
        ("452 kunde1@example.de; try later", "452 <address>; try later"),
        ("550 see https://x.example/?id=abc@def", "550 see https://x.example/?id=abc@def"),
    ],
)  # fmt: skip
def test_server_replies_lose_their_addresses(reply, scrubbed):
    assert transport.scrub(reply) == scrubbed


def test_a_from_email_that_is_no_address_is_named(db, world, smtp, config, monkeypatch):
    conn = json.loads(os.environ["AIRFLOW_CONN_JOURNEYFLOW_SMTP"])
    conn["extra"]["from_email"] = "Fotohaus Müller, Dresden <news@fotohaus.example>"
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SMTP", json.dumps(conn))
    world.subscriber(T - 20 * DAY)
    world.run(D)
    with pytest.raises(transport.SenderError, match="extra from_email"):
        campaigns.decide(D)
