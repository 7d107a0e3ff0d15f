"""Campaign decisions, the outbox and sending, against embedded PostgreSQL and a real SMTP server.

D = 2026-11-20 (cut-off T = 2026-11-21 00:00 Berlin), as in the rulebook tests.
"""

from __future__ import annotations

import email
import json
import os
import shutil
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import text

from journeyflow import campaigns
from journeyflow import config as settings
from journeyflow.config import paths
from journeyflow.email import enqueue, render, sender, transport
from journeyflow.email.templates import check_templates
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


@pytest.fixture
def cast(world):
    """One contact per campaign audience, plus the ones that must be left out."""
    w = world
    c = {
        "welcome": w.subscriber(T - 5 * 3600 * timedelta(seconds=1)),  # confirmed on D
        "tripwire": w.subscriber(T - 20 * DAY),
        "onboarding": subscribed_customer(w, T - 30 * 3600 * timedelta(seconds=1)),  # D-1
        "upsell": subscribed_customer(w, T - 60 * DAY),
        "upsell_bad_payer": subscribed_customer(w, T - 60 * DAY),
        "upsell_no_consent": customer(w, T - 60 * DAY),
        "testimonial": subscribed_customer(w, T - 200 * DAY, T - 20 * DAY),
        "win_back_email": subscribed_customer(w, T - 400 * DAY, T - 200 * DAY),
        "win_back_postal": customer(w, T - 400 * DAY, T - 200 * DAY),
        "win_back_bad_reviewer": subscribed_customer(w, T - 400 * DAY, T - 200 * DAY),
        "awareness": w.contact(),
    }
    w.event(c["upsell_bad_payer"], "payment_overdue", T - 10 * DAY)
    for _ in range(2):
        w.event(c["testimonial"], "purchase", T - 100 * DAY)
    w.event(c["testimonial"], "review", T - 19 * DAY, rating=5)
    w.event(c["win_back_bad_reviewer"], "review", T - 300 * DAY, rating=1)
    return c


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


def test_unsubscribe_link_is_honoured_next_run(db, world, smtp, config):
    from fastapi.testclient import TestClient

    from journeyflow import unsubscribe

    cid = subscribed_customer(world, T - 60 * DAY)  # upsell
    run_day(world, D)
    url = str(smtp.messages[0]["List-Unsubscribe"]).strip("<>")
    token = url.rsplit("/", 1)[-1]
    client = TestClient(unsubscribe.create_app())
    assert client.get(f"/u/{token}").status_code == 200  # a link scanner: nothing happens
    assert (
        client.post(f"/u/{token[:-2]}xx", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    )
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.suppressions").scalar() == 0
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    world.subscriber(T - 20 * DAY)  # somebody else, still mailed
    next_day = D + timedelta(days=1)
    run_day(world, next_day)
    assert decisions(db, next_day, cid)[0]["reason"] == "unsubscribed (link in an email)"
    assert world.flags(cid)["email_ok"] is False
    assert [m["X-Campaign"] for m in smtp.messages] == ["upsell", "tripwire_offer"]


def test_names_arrive_literally(db, world, smtp, config):
    world.subscriber(
        T - 20 * DAY, first_name="<script>alert(1)</script>", last_name="{{7*7}}",
        salutation="Herr", language="de",
    )  # fmt: skip
    run_day(world, D)
    (msg,) = smtp.messages
    html = msg.get_body(("html",)).get_content()
    plain = msg.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Hallo <script>alert(1)</script>," in plain
    assert "{{7*7}}" in str(msg["To"]) and "49" not in str(msg["To"])


def test_greetings():
    r = render.Recipient
    cases = [
        (r("1", "a@x", salutation="Frau", title="Dr.", first_name="Anna", last_name="Müller"),
         "de", "formal", "Sehr geehrte Frau Dr. Müller,"),
        (r("2", "a@x", salutation="Herr", first_name="Jonas", last_name="Weiß"),
         "de", "formal", "Sehr geehrter Herr Weiß,"),
        (r("3", "a@x", salutation="Divers", first_name="Alex", last_name="Koch"),
         "de", "formal", "Guten Tag Alex Koch,"),
        (r("4", "a@x", first_name="Jonas", last_name="Weiß"), "de", "informal", "Hallo Jonas,"),
        (r("5", "a@x"), "de", "informal", "Hallo,"),
        (r("6", "a@x", salutation="Frau", title="Dr.", last_name="Müller"), "en", "formal",
         "Dear Dr Müller,"),
        (r("7", "a@x", salutation="Herr", last_name="Weiß"), "en", "formal", "Dear Mr Weiß,"),
        (r("8", "a@x", first_name="Jonas\r\nBcc: x"), "en", "informal", "Hi Jonas Bcc: x,"),
    ]  # fmt: skip
    for recipient, lang, tone, expected in cases:
        assert render.greeting(recipient, lang, tone) == expected


def test_english_with_german_fallback(db, world, smtp, config, tmp_path, monkeypatch):
    templates = tmp_path / "email_templates"
    shutil.copytree(settings.TEMPLATES_DIR, templates)
    shutil.rmtree(templates / "en" / "tripwire_offer")
    monkeypatch.setattr(paths, "TEMPLATES_DIR", templates)
    world.subscriber(T - 20 * DAY, language="en", first_name="Ann")
    customer_en = subscribed_customer(world, T - 60 * DAY, language="en", first_name="Ben")
    run_day(world, D)
    by_campaign = {str(m["X-Campaign"]): m for m in smtp.messages}
    fallback = by_campaign["tripwire_offer"]
    assert fallback["Content-Language"] == "de"
    assert fallback.get_body(("plain",)).get_content().startswith("Hallo Ann,")
    upsell = by_campaign["upsell"]
    assert upsell["Content-Language"] == "en" and customer_en
    assert upsell.get_body(("plain",)).get_content().startswith("Hi Ben,")


def test_templates_check_finds_a_missing_variable(tmp_path, monkeypatch):
    assert check_templates() == []
    templates = tmp_path / "email_templates"
    shutil.copytree(settings.TEMPLATES_DIR, templates)
    subject = templates / "en" / "upsell" / "1.subject.j2"
    subject.write_text("Hi {{ contact.nickname }}", encoding="utf-8")
    errors = check_templates(templates)
    assert errors and all("upsell step 1 (en" in e for e in errors)
    assert any("nickname" in e for e in errors)


def test_templates_check_finds_a_missing_part_and_a_missing_unsubscribe_link(tmp_path):
    templates = tmp_path / "email_templates"
    shutil.copytree(settings.TEMPLATES_DIR, templates)
    (templates / "en" / "upsell" / "1.html.j2").unlink()
    (templates / "de" / "tripwire_offer" / "1.txt.j2").write_text("Hallo!", encoding="utf-8")
    errors = check_templates(templates)
    assert any(
        e.startswith("upsell step 1 (en): email_templates/en/upsell/1.html.j2 is missing")
        for e in errors
    )
    assert any(
        e.startswith("tripwire_offer step 1 (de,") and "txt part has no visible unsubscribe" in e
        for e in errors
    )


def test_plan_is_a_dry_run(db, world, cast, config):
    world.run(D)
    plan = campaigns.plan(D)
    assert plan.counts["upsell"] == {"queued": 1, "excluded": 2}
    assert plan.counts["win_back"]["queued (postal)"] == 1
    assert "excluded: bad payer (payment overdue in the last 365 days)" in plan.reasons["upsell"]
    assert outbox_rows(db) == [] and decisions(db, D) == []


def test_smtp_unreachable_fails_with_messages_still_queued(db, world, config, monkeypatch):
    from tests.smtp_sink import free_port, smtp_connection

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


def test_a_sender_name_with_umlauts_is_encoded(db, world, config):
    sender = {"from": "Fotohaus Müller <news@fotohaus.example>"}
    config(lambda raw: raw["campaigns"]["sender"].update(sender))
    world.subscriber(T - 20 * DAY)
    run_day(world, D)
    (path,) = (settings.home() / "outbox" / str(D) / "tripwire_offer").glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert str(msg["From"]) == "Fotohaus Müller <news@fotohaus.example>"
    shutil.rmtree(settings.home() / "outbox")


def test_delays_need_something_to_count_from(db, world, config):
    config(lambda raw: raw["campaigns"]["list"]["tripwire_offer"].update(steps=[2]))
    world.subscriber(T - 20 * DAY)
    world.run(D)
    with pytest.raises(campaigns.AudienceError, match="nothing to count the days from"):
        campaigns.decide(D)


def test_rendering_in_worker_processes_gives_the_same_messages(db, world, smtp, config,
                                                               monkeypatch):  # fmt: skip
    for i in range(6):
        world.subscriber(T - 20 * DAY, language=("de", "en")[i % 2], first_name=f"Jörg{i}")
    world.run(D)
    campaigns.decide(D)
    serial = {r["contact_id"]: r["message"] for r in outbox_rows(db)}
    with db.transaction() as conn:
        conn.exec_driver_sql("truncate journeyflow.outbox, journeyflow.campaign_decisions")
    monkeypatch.setattr(enqueue, "PARALLEL_FROM", 1)
    monkeypatch.setattr(enqueue, "RENDER_CHUNK", 2)
    campaigns.decide(D)
    parallel = {r["contact_id"]: r["message"] for r in outbox_rows(db)}

    def without_date(message):
        return [line for line in message.split("\r\n") if not line.startswith("Date: ")]

    assert len(parallel) == 6 and serial.keys() == parallel.keys()
    for cid, message in serial.items():
        assert without_date(message) == without_date(parallel[cid])


def test_cli_plan_preview_templates_explain_outbox(db, world, cast, config, capsys):
    from journeyflow import cli

    world.run(D)
    assert cli.main(["plan", "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "upsell: 3 candidates: excluded 2, queued 1" in out
    assert cli.main(["preview", "upsell", "1", cast["upsell"], "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "X-Campaign: upsell" in out and "List-Unsubscribe: <" in out
    assert cli.main(["templates", "check"]) == 0
    campaigns.decide(D)
    assert cli.main(["explain", cast["upsell_bad_payer"], "--date", str(D)]) == 0
    assert "upsell               step 1  email  excluded  bad payer" in capsys.readouterr().out
    assert cli.main(["outbox", "--date", str(D)]) == 0
    assert "tripwire_offer" in capsys.readouterr().out
    assert cli.main(["preview", "nosuch", "1", cast["upsell"]]) == 2


def test_queued_mail_is_not_sent_after_the_contact_unsubscribed(db, world, smtp, config,
                                                                monkeypatch):  # fmt: skip
    from fastapi.testclient import TestClient

    from journeyflow import unsubscribe
    from tests.smtp_sink import free_port, smtp_connection

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


def one_connection(raw):
    raw["campaigns"]["sender"].update(connections=1)


def queued_tripwire(db, world, n: int) -> list[str]:
    """n contacts with a tripwire_offer email queued for D, in the order the sender takes them."""
    for _ in range(n):
        world.subscriber(T - 20 * DAY)
    world.run(D)
    campaigns.decide(D)
    return [r["contact_id"] for r in outbox_rows(db)]


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


def test_decisions_need_the_facts_of_their_date(db, world, config):
    world.subscriber(T - 20 * DAY)
    world.run(D)
    with pytest.raises(campaigns.StaleFactsError, match="run the whole date again"):
        campaigns.decide(D + timedelta(days=1))
