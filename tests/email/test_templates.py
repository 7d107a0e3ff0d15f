"""Rendering: templates in both languages, greetings, hostile names, the template check, and
rendering in worker processes (D = 2026-11-20).
"""

from __future__ import annotations

import binascii
import multiprocessing
import shutil
from datetime import UTC, datetime
from email import message_from_string, policy
from itertools import takewhile

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from journeyflow import campaigns
from journeyflow import config as settings
from journeyflow.config import paths
from journeyflow.email import enqueue, mime, render
from journeyflow.email.templates import check_templates
from tests.campaign_world import (
    outbox_rows,
    run_day,
    subscribed_customer,
)
from tests.world import DAY, D, T


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


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("Jonas Weiß", "Ihr Gutschein für Lichtblick"),
        ('Anna "Anni" Müller, Dr.', "Schön, dass Sie da sind – " * 6),  # folded, several words
        ("Zoë 🌱 Ørsted-Ñúñez " * 4, "Plain ASCII subject"),  # a character never split
        ('Smith, John "JJ"', "Hello"),  # ASCII with specials: quoted
    ],
)
def test_headers_with_any_name_and_subject_arrive_as_written(name, subject):
    text = mime.build_message(
        sender="Lichtblick Café <news@lichtblick.example>", recipient="a@example.com",
        recipient_name=name, subject=subject, text="Hallo", html="<p>Hallo</p>",
        msg_id="<x@lichtblick.example>", campaign="welcome_drip", step=1,
        unsubscribe_url="https://u.example/u/t", lang="de",
        when=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )  # fmt: skip
    assert text.isascii() and all(len(line) <= 998 for line in text.split("\r\n"))
    msg = message_from_string(text, policy=policy.default)
    assert msg["To"].addresses[0].display_name == name.strip()
    assert msg["To"].addresses[0].addr_spec == "a@example.com"
    assert msg["Subject"] == " ".join(subject.split())
    assert msg["From"].addresses[0].display_name == "Lichtblick Café"
    header = text.split("\r\n\r\n")[0]
    subject_field = header[header.index("\r\nSubject: ") + 2 :].split("\r\n")
    subject_lines = [subject_field[0], *takewhile(lambda line: line[:1] == " ", subject_field[1:])]
    assert all(len(line) <= 78 for line in subject_lines)  # folded as RFC 5322 recommends


_LINE = st.lists(
    st.sampled_from(["a", "Ü", "=", " ", "\t", ".", "x" * 40, "€", "\r", "\x01", "<p>", "🌱"]),
    max_size=30,
).map("".join)


@settings_(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_quoted_printable_line_by_line_is_the_whole_body_encoded(lines, end, closed):
    body = end.join(lines) + (end if closed else "")
    whole = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    expected = binascii.b2a_qp(whole, quotetabs=False, istext=True, header=False).decode()
    assert mime._qp(body) == expected
    assert mime._qp(body) == expected  # again, from the lines kept


def test_a_very_long_name_is_cut_at_a_character_and_no_line_passes_998():
    for name in ("Ä" + "x" * 2000, "x" * 2000, "🌱" * 500):
        text = mime.build_message(
            sender="news@lichtblick.example", recipient="a@example.com", recipient_name=name,
            subject="Hallo", text="Hallo", html="<p>Hallo</p>", msg_id="<x@lichtblick.example>",
            campaign="welcome_drip", step=1, unsubscribe_url="https://u.example/u/t", lang="de",
            when=datetime(2026, 11, 20, 9, tzinfo=UTC),
        )  # fmt: skip
        assert all(len(line) <= 998 for line in text.split("\r\n"))
        shown = message_from_string(text, policy=policy.default)["To"].addresses[0].display_name
        assert name.startswith(shown) and 0 < len(shown.encode()) <= 300


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
    subject = templates / "en" / "tripwire_offer" / "1.subject.j2"
    subject.write_text("Hi {{ contact.nickname }}", encoding="utf-8")
    errors = check_templates(templates)
    assert errors and all("tripwire_offer step 1 (en" in e for e in errors)
    assert any("nickname" in e for e in errors)


def test_templates_check_renders_every_variant(tmp_path):
    """upsell step 1 has variants a and b: b's own subject is checked, a uses the step's."""
    templates = tmp_path / "email_templates"
    shutil.copytree(settings.TEMPLATES_DIR, templates)
    (templates / "en" / "upsell" / "1.b.subject.j2").write_text("{{ contact.nickname }}")
    errors = check_templates(templates)
    assert errors and all("upsell step 1 variant b (en" in e for e in errors)
    (templates / "en" / "upsell" / "1.b.subject.j2").unlink()  # b falls back to 1.subject.j2
    (templates / "de" / "upsell" / "1.c.html.j2").write_text("{{ links.unsubscribe }}")
    (errors,) = check_templates(templates)
    assert "1.c.html.j2 is for variant 'c'" in errors and "variants of step 1: a, b" in errors


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


def test_rendering_in_worker_processes_gives_the_same_messages(db, world, smtp, config,
                                                               monkeypatch):  # fmt: skip
    for i in range(6):
        world.subscriber(T - 20 * DAY, language=("de", "en")[i % 2], first_name=f"Jörg{i}")
    world.run(D)
    campaigns.decide(D)
    serial = {r["contact_id"]: r["message"] for r in outbox_rows(db)}
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "truncate journeyflow.outbox, journeyflow.campaign_decisions, "
            "journeyflow.decision_counts"
        )
    monkeypatch.setattr(enqueue, "PARALLEL_FROM", 1)
    monkeypatch.setattr(enqueue, "RENDER_CHUNK", 1)  # more chunks than the workers hold
    campaigns.decide(D)
    parallel = {r["contact_id"]: r["message"] for r in outbox_rows(db)}

    def without_date(message):
        return [line for line in message.split("\r\n") if not line.startswith("Date: ")]

    assert len(parallel) == 6 and serial.keys() == parallel.keys()
    for cid, message in serial.items():
        assert without_date(message) == without_date(parallel[cid])


def test_a_rendering_worker_loads_neither_the_database_layer_nor_airflow(config):
    from datetime import date

    from journeyflow.email import rows
    from journeyflow.unsubscribe.keys import parse_keys

    keys = parse_keys("k1:" + "s" * 40, "test")
    init = (paths.TEMPLATES_DIR, keys, "https://shop.example/u/", "news@shop.example")
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    recipient = ("c1", "a@example.com", "de", "Frau", None, "Jördis", "Nüßle", "Köln", 1,
                 "Tee", "Tee", now, now)  # fmt: skip
    chunk = (date(2026, 11, 20), now, [("welcome_drip", 1, 1, "main", *recipient)])
    with multiprocessing.get_context("spawn").Pool(1, rows.init_worker, init) as pool:
        assert pool.apply(rows.render_in_worker, (chunk,))[0] == 1
        # a builtin runs in the worker as is (a function of this module would import the tests)
        loaded = pool.apply(eval, ("[m for m in ('sqlalchemy', 'psycopg2', 'airflow') "
                                   "if m in __import__('sys').modules]",))  # fmt: skip
    assert loaded == []


def test_outbox_rows_keep_non_ascii_ids_whatever_the_client_encoding(db, world, smtp, config,
                                                                      monkeypatch):  # fmt: skip
    # the outbox is filled with COPY's binary format, whose text fields are UTF-8 bytes
    from journeyflow import warehouse

    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    warehouse.reset()
    try:
        cid = world.subscriber(T - 20 * DAY, contact_id="Kö-1", email="koe1@example.de")
        world.run(D)
        campaigns.decide(D)
        assert [r["contact_id"] for r in outbox_rows(db)] == [cid]
    finally:
        monkeypatch.delenv("PGCLIENTENCODING")
        warehouse.reset()
