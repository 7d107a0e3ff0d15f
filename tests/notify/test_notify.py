"""Telling people, with a real SMTP server and a local HTTP server as the chat webhook: a night
that needs a person alerts (what failed, why, the next step), a good night sends the morning
summary once, and neither holds personal data (D = 2026-11-20)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from journeyflow.notify import alerts, morning
from tests.conftest import REPOSITORY_CONFIG

D = date(2026, 11, 20)
NIGHT = date(2026, 9, 15)  # the nights run through dag.test(): a date no other test runs, since
# dag.test() replaces an earlier run of the same date in the worker's Airflow metadata
OTHER_NIGHT = date(2026, 9, 22)
ALERTS, SUMMARY = "daten@lichtblick.example", "marketing@lichtblick.example"


@pytest.fixture
def told(config, smtp, httpserver, monkeypatch):
    """alerts.to and summary.to as in the repository config, a webhook on a local HTTP server."""
    cockpit = "https://airflow.shop.example/journeyflow"
    config(lambda raw: raw.update(alerts={"to": [ALERTS]},
                                  summary={"to": [SUMMARY], "cockpit_url": cockpit}))  # fmt: skip
    httpserver.expect_request("/hooks/ops", method="POST").respond_with_data("ok")
    keys = "k1:" + "s" * 32
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE", json.dumps(  # real mail: https
        {"conn_type": "generic", "host": f"{cockpit}/u/", "password": keys}))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_ALERTS", json.dumps(
        {"conn_type": "http", "host": httpserver.url_for("/hooks/ops")}))  # fmt: skip
    return smtp, httpserver


def mails(smtp, kind):
    return [m for m in smtp.messages if m["X-Journeyflow"] == kind]


def test_a_night_in_doubt_alerts_and_still_sends_its_summary(told, airflow_db, db, capsys,
                                                             monkeypatch):  # fmt: skip
    from journeyflow import cli

    smtp, hook = told
    with db.transaction() as conn:  # a message a sender had handed to SMTP when it died
        conn.execute(text(
            "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, channel, "
            "run_date, status, message_id) values ('X1', 'upsell', 1, 1, 'email', '2026-09-05', "
            "'in_doubt', '<upsell.1.1.x@lichtblick.example>')"))  # fmt: skip
    monkeypatch.setenv("JOURNEYFLOW_DEMO_CONTACTS", "300")
    assert cli.main(["run", "--date", str(NIGHT)]) == 3
    out = capsys.readouterr().err  # progress goes to stderr: stdout stays the summary
    assert "  > extract_events" in out and "  ✓ extract_events: " in out  # live progress
    assert "  ✓ decide_campaigns: " in out

    look, alert = mails(smtp, "alert")  # 300 contacts: a mailing below the minimum, then doubt
    assert look["Subject"] == f"journeyflow {NIGHT}: the night worked, but needs a look"
    assert "below the minimum" in look.get_content()
    assert alert["X-Envelope-To"] == ALERTS
    assert alert["Subject"] == (
        f"journeyflow {NIGHT}: the night ran, but messages or mailings are in doubt"
    )
    body = alert.get_content()
    assert "1 upsell message(s) of 2026-09-05 in doubt" in body
    assert "Next step: a sender died between the server's acceptance and recording it" in body
    assert f"https://airflow.shop.example/journeyflow/runs?date={NIGHT}" in body
    assert "Next step: the mailing went out with fewer pieces" in look.get_content()
    posts = [json.loads(r.get_data()) for r, _ in hook.log]
    crlf = [{"text": m.get_content().replace("\r\n", "\n")} for m in (look, alert)]
    assert posts == crlf
    posted = posts[1]

    (summary,) = mails(smtp, "summary")  # the night ran through: its figures went out too
    assert summary["X-Envelope-To"] == SUMMARY
    assert summary["Subject"].startswith("journeyflow, 15.09.2026: ")
    text_part = summary.get_body(("plain",)).get_content()
    assert "braucht aber einen Blick" in text_part and "in doubt" in text_part
    with db.transaction() as conn:
        phases = dict(conn.execute(text(
            "select phase, contacts from journeyflow.v_phase_counts where run_date = :d"),
            {"d": NIGHT}).all())  # fmt: skip
        emails = conn.execute(text(
            "select count(*) from journeyflow.send_log where run_date = :d and channel = 'email'"),
            {"d": NIGHT}).scalar()  # fmt: skip
        people = conn.execute(text(
            "select email, last_name, street from journeyflow.contacts")).all()  # fmt: skip
    assert f"{emails} E-Mails versendet" in text_part
    for phase, n in phases.items():
        assert any(line.split()[:2] == [phase, f"{n:,}".replace(",", ".")]
                   for line in text_part.splitlines())  # fmt: skip
    everything = alert.as_string() + summary.as_string() + json.dumps(posted)
    for email, _, street in people:  # ids and counts only
        assert (email or "@@") not in everything and (street or "@@") not in everything
    assert "Müller" not in everything

    # the summary goes out once per date: a second summarize sends nothing
    assert morning.send_summary(NIGHT) is None and len(mails(smtp, "summary")) == 1


def test_a_failed_extract_alerts_with_the_triage_line(told, airflow_db, db, monkeypatch):
    from journeyflow import cli

    smtp, hook = told
    source = hook  # the same local server plays the shop, which refuses our token
    source.expect_request("/contacts").respond_with_json({"error": "bad token"}, status=401)
    source.expect_request("/events").respond_with_json({"error": "bad token"}, status=401)
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_SOURCE", json.dumps(
        {"conn_type": "http", "host": source.url_for(""), "password": "expired"}))  # fmt: skip
    assert cli.main(["run", "--date", str(OTHER_NIGHT)]) == 1
    sent = mails(smtp, "alert")  # one per task that failed: both extracts
    assert sorted(str(a["Subject"]) for a in sent) == [
        f"journeyflow {OTHER_NIGHT}: the night failed at extract_{s}"
        for s in ("contacts", "events")
    ]
    for alert in sent:
        body = alert.get_content()
        assert "401" in body
        assert "Next step: the bearer token (password of `journeyflow_source`)" in body
    assert not mails(smtp, "summary")  # no summary after a failed night


def test_an_alert_never_carries_an_address_and_a_dead_webhook_does_not_hide_it(told, monkeypatch):
    from journeyflow.notify import webhook

    smtp, hook = told
    errors = []
    monkeypatch.setattr(alerts.log, "error", lambda msg, *args: errors.append(msg % args))
    monkeypatch.setattr(webhook.time, "sleep", lambda s: None)
    alert = alerts.for_failed_run(
        D, "decide_campaigns failed: sql/campaigns/vip.sql: no column 'anna.mueller@example.org'"
    )
    assert "anna.mueller@example.org" not in alert.text() and "<address>" in alert.text()
    assert alert.next_step.startswith("an audience query or a template is broken")
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_ALERTS", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:9/nowhere"}))  # fmt: skip
    went = alerts.send(alert)  # the email still goes; the webhook's failure is logged
    assert went == [went[0]] and "SMTP" in went[0]
    (error,) = errors
    assert "could not be posted to journeyflow_alerts" in error and "nowhere" not in error
    below = alerts.for_warnings(D, ["postal win_back 2026-11-20: 183 pieces, below the minimum "
                                    "of 200 for profile default"])  # fmt: skip
    assert below.next_step.startswith("the mailing went out with fewer pieces")


def test_the_summary_in_english_and_preview_summary(told, world, db, capsys, config):
    from journeyflow import cli
    from journeyflow.lifecycle import assign_phases, score

    config(lambda raw: raw.update(summary={"to": [SUMMARY], "language": "en"}))
    world.contact()
    score(D)
    assign_phases(D)
    subject, text_part, html = morning.render(D)
    assert subject == "journeyflow, 20 November 2026: 0 emails"
    assert "the nightly run for 20 November 2026" in text_part and "awareness" in text_part
    assert "<html" in html and "Contacts per phase" in html
    assert cli.main(["preview", "summary", "--date", str(D)]) == 0
    assert f"To: {SUMMARY}" in capsys.readouterr().out
    assert cli.main(["preview", "summary", "--date", str(D), "--language", "de"]) == 0
    assert "Kontakte je Phase".upper() in capsys.readouterr().out


def test_the_repository_config_tells_people():
    import yaml

    raw = yaml.safe_load(REPOSITORY_CONFIG.read_text())
    assert raw["alerts"]["to"] and raw["summary"]["to"] and raw["summary"]["language"] == "de"


def test_a_stopping_quality_gate_is_named_as_such():
    alert = alerts.for_failed_run(
        D, "quality_gate_failed failed: critical check contacts_email_syntax failed: 120 of 300 "
        "rows bad (Data Docs: /x/data_docs/2026-11-20/index.html)"
    )  # fmt: skip
    assert alert.subject == f"journeyflow {D}: the quality gate stopped the night; no campaign ran"
    assert alert.next_step.startswith("a critical data quality check failed")
    assert "contacts_email_syntax" in alert.why


def test_a_refusing_webhook_is_tried_again_and_never_named_by_its_url(httpserver, monkeypatch):
    from journeyflow.notify import webhook

    monkeypatch.setattr(webhook.time, "sleep", lambda s: None)  # the waits, not their length
    path = "/services/T0/B0/SECRETTOKEN"
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_ALERTS", json.dumps(
        {"conn_type": "http", "host": httpserver.url_for(path)}))  # fmt: skip
    httpserver.expect_ordered_request(path).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"})  # fmt: skip
    httpserver.expect_ordered_request(path).respond_with_data("ok")
    assert webhook.post("hello") == "webhook journeyflow_alerts (200)"
    httpserver.clear()
    for _ in range(3):
        httpserver.expect_ordered_request(path).respond_with_data("down", status=503)
    with pytest.raises(webhook.WebhookError) as caught:
        webhook.post("hello")
    assert "HTTP 503" in str(caught.value) and "SECRET" not in str(caught.value)
    assert len(httpserver.log) == 3


def test_one_refused_recipient_does_not_keep_the_mail_from_the_others(told):
    from journeyflow.notify import mail

    smtp, _ = told
    smtp.refuse["b@ops.example"] = [550]
    went = mail.deliver("alert", D, ("a@ops.example", "b@ops.example", "c@ops.example"), "s", "t")
    assert went.endswith("2 recipient(s)")
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == ["a@ops.example", "c@ops.example"]


def test_a_failed_night_alerts_even_when_the_warehouse_is_gone(told, monkeypatch):
    monkeypatch.setattr("journeyflow.runlog.run_record", lambda d: 1 / 0)
    smtp, _ = told
    assert alerts.failed_run(D)
    (alert,) = mails(smtp, "alert")
    assert "the warehouse could not be read" in alert.get_content()
