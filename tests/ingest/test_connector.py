"""The HTTP connector against a local HTTP server replaying realistic payloads and faults."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime

import pytest
from werkzeug import Response

from journeyflow.config import SourceConfig
from journeyflow.ingest import CONTACTS, EVENTS, HttpSource, SourceError

FAST = SourceConfig(page_size=2, connect_timeout=1, read_timeout=0.5, max_retries=3)


def contact(i: int, updated: str = "2026-11-20T10:00:00Z") -> dict:
    return {
        "id": f"C{i}",
        "email": f"kunde{i}@example.de",
        "first_name": "Käthe",
        "last_name": "Größer",
        "email_consent": {"status": "pending"},
        "created_at": "2026-11-01T08:00:00Z",
        "updated_at": updated,
    }


def event(i: int, contact_id: str = "C1", when: str = "2026-11-20T12:00:00Z") -> dict:
    return {"id": f"E{i}", "contact_id": contact_id, "type": "page_view", "occurred_at": when}


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def source(httpserver, sleeps):
    return HttpSource(httpserver.url_for(""), "s3cr3t-token", FAST, sleep=sleeps.append)


def page(data, cursor=None):
    return {"data": data, "next_cursor": cursor}


def test_follows_the_cursor_and_sends_auth(httpserver, source):
    httpserver.expect_ordered_request(
        "/contacts",
        query_string={"limit": "2"},
        headers={"Authorization": "Bearer s3cr3t-token"},
    ).respond_with_json(page([contact(1), contact(2)], "p2"))
    httpserver.expect_ordered_request(
        "/contacts", query_string={"limit": "2", "cursor": "p2"}
    ).respond_with_json(page([contact(3)], None))
    got = [r["id"] for page in source.pages(CONTACTS, None) for r in page.records]
    assert got == ["C1", "C2", "C3"]
    httpserver.check_assertions()


def test_incremental_pull_sends_the_watermark(httpserver, source):
    since = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    httpserver.expect_request(
        "/events", query_string={"limit": "2", "since": "2026-11-20T10:00:00+00:00"}
    ).respond_with_json(page([event(9)]))
    assert [r["id"] for p in source.pages(EVENTS, since) for r in p.records] == ["E9"]


def test_429_honours_retry_after(httpserver, source, sleeps):
    httpserver.expect_ordered_request("/events").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request("/events").respond_with_json(page([event(1)]))
    assert sum(len(p) for p in source.pages(EVENTS, None)) == 1
    assert sleeps == [7.0]  # Retry-After wins over the 1 s first backoff
    assert source.retries == 1


def test_500_then_success_backs_off_exponentially(httpserver, source, sleeps):
    for _ in range(2):
        httpserver.expect_ordered_request("/events").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/events").respond_with_json(page([event(1)]))
    assert sum(len(p) for p in source.pages(EVENTS, None)) == 1
    assert sleeps == [1.0, 2.0]


def test_read_timeout_is_retried(httpserver):
    # The test server answers one request at a time, so the retry waits until the slow
    # answer is out; otherwise it would queue behind it and time out as well.
    answered = threading.Event()
    sleeps: list[float] = []

    def slow(request):
        time.sleep(1.0)
        answered.set()
        return Response(json.dumps(page([event(1)])), content_type="application/json")

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert answered.wait(10)

    source = HttpSource(httpserver.url_for(""), "s3cr3t-token", FAST, sleep=sleep)
    httpserver.expect_ordered_request("/events").respond_with_handler(slow)
    httpserver.expect_ordered_request("/events").respond_with_json(page([event(2)]))
    got = [r["id"] for p in source.pages(EVENTS, None) for r in p.records]
    assert got == ["E2"]
    assert sleeps == [1.0]


def test_invalid_json_fails_clearly_after_retries(httpserver, source, sleeps):
    httpserver.expect_request("/events").respond_with_data("<html>Gateway</html>", status=200)
    with pytest.raises(SourceError) as err:
        list(source.pages(EVENTS, None))
    message = str(err.value)
    assert "journeyflow_source: GET /events" in message
    assert "invalid JSON" in message and "after 4 attempts" in message
    assert len(sleeps) == 3


def test_unexpected_shape_is_an_error(httpserver, source):
    httpserver.expect_request("/events").respond_with_json({"items": []})
    with pytest.raises(SourceError, match='"data" list'):
        list(source.pages(EVENTS, None))


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_names_connection_and_path_not_token(httpserver, source, sleeps, status):
    httpserver.expect_request("/contacts").respond_with_data("no", status=status)
    with pytest.raises(SourceError) as err:
        list(source.pages(CONTACTS, None))
    message = str(err.value)
    assert f"journeyflow_source: GET /contacts answered HTTP {status}" in message
    assert "bearer token" in message
    assert "s3cr3t" not in message
    assert sleeps == []  # never retried


def test_404_points_at_the_base_url(httpserver, source):
    httpserver.expect_request("/contacts").respond_with_data("nope", status=404)
    with pytest.raises(SourceError, match="check the host"):
        list(source.pages(CONTACTS, None))


def test_connection_refused_is_retried_then_fails(sleeps):
    src = HttpSource("http://127.0.0.1:9", None, FAST, sleep=sleeps.append)
    with pytest.raises(SourceError, match="connection failed"):
        list(src.pages(CONTACTS, None))
    assert sleeps == [1.0, 2.0, 4.0]


def test_repeated_cursor_stops_instead_of_looping(httpserver, source):
    httpserver.expect_request("/contacts").respond_with_json(page([contact(1)], "same"))
    with pytest.raises(SourceError, match="repeated cursor"):
        list(source.pages(CONTACTS, None))


# -- through the pipeline: staging, quarantine and watermarks in the embedded PostgreSQL ---------


@pytest.fixture
def http_source(httpserver, monkeypatch, tmp_path):
    """Point ``journeyflow_source`` at the local HTTP server, with fast retries."""
    from journeyflow import config as settings

    cfg = tmp_path / "journeyflow.yaml"
    cfg.write_text("source: {page_size: 2, backoff_base: 0.01, backoff_max: 0.05}\n")
    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(cfg))
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_SOURCE",
        json.dumps({"conn_type": "http", "host": httpserver.url_for(""), "password": "tok"}),
    )
    settings.load_config.cache_clear()
    yield httpserver
    settings.load_config.cache_clear()


D = date(2026, 11, 20)


def test_malformed_records_go_to_quarantine_with_reason_and_raw(db, http_source):
    from journeyflow import ingest

    broken = [
        {**contact(2), "id": None},
        {**contact(3), "updated_at": "20.11.2026"},
        {**contact(4), "email": ["a@b.de"]},
    ]
    http_source.expect_request("/contacts").respond_with_json(page([contact(1), *broken]))
    http_source.expect_request("/events").respond_with_json(
        page([event(1), {**event(2), "occurred_at": "nie"}, event(3, contact_id="C404")])
    )
    assert ingest.extract("contacts", D).quarantined == 3
    assert ingest.extract("events", D).quarantined == 1
    assert ingest.load(D).quarantined == 1  # the event of an unknown contact
    ingest.merge(D)
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select stream, record_id, reason, raw from journeyflow.quarantine order by 1, 3"
        ).all()
        assert conn.exec_driver_sql("select count(*) from journeyflow.contacts").scalar() == 1
        assert conn.exec_driver_sql("select count(*) from journeyflow.events").scalar() == 1
    reasons = {(r.stream, r.record_id, r.reason) for r in rows}
    assert reasons == {
        ("contacts", None, "missing id"),
        ("contacts", "C3", "updated_at: unparseable timestamp"),
        ("contacts", "C4", "email: expected a string, got list"),
        ("events", "E2", "occurred_at: unparseable timestamp"),
        ("events", "E3", "unknown contact_id"),
    }
    raw = {r.record_id: r.raw for r in rows}
    assert raw["C3"]["updated_at"] == "20.11.2026" and raw["C3"]["last_name"] == "Größer"


def test_second_pull_asks_only_for_changes_since_the_watermark(db, http_source):
    from journeyflow import ingest

    http_source.expect_ordered_request("/contacts").respond_with_json(
        page([contact(1, "2026-11-20T10:00:00Z"), contact(2, "2026-11-20T11:30:00Z")])
    )
    http_source.expect_ordered_request("/events").respond_with_json(
        page([event(1, when="2026-11-20T09:00:00Z")])
    )
    http_source.expect_ordered_request(
        "/contacts", query_string={"limit": "2", "updated_since": "2026-11-20T11:30:00+00:00"}
    ).respond_with_json(page([contact(2, "2026-11-20T11:30:00Z")]))
    http_source.expect_ordered_request(
        "/events", query_string={"limit": "2", "since": "2026-11-20T09:00:00+00:00"}
    ).respond_with_json(page([event(1, when="2026-11-20T09:00:00Z")]))
    for day in (D, date(2026, 11, 21)):
        ingest.extract("contacts", day)
        ingest.extract("events", day)
        ingest.load(day)
        ingest.merge(day)
    http_source.check_assertions()
    with db.transaction() as conn:
        marks = dict(
            conn.exec_driver_sql("select stream, run_date from journeyflow.watermarks").all()
        )
    assert marks == {"contacts": D, "events": D}  # nothing newer: the watermark stays


def test_watermark_does_not_move_when_the_batch_is_not_merged(db, http_source):
    from journeyflow import ingest

    http_source.expect_request("/contacts").respond_with_json(page([contact(1)]))
    ingest.extract("contacts", D)
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.watermarks").scalar() == 0


@pytest.mark.parametrize("core_has_events", [False, True])
def test_an_event_repeated_in_one_batch_is_merged_once(db, http_source, core_has_events):
    from journeyflow import ingest

    expect = http_source.expect_ordered_request
    days = [D]
    if core_has_events:  # a first night, so the second merges into a non-empty table
        days.insert(0, date(2026, 11, 19))
        expect("/contacts").respond_with_json(page([contact(1)]))
        expect("/events").respond_with_json(page([event(0, when="2026-11-19T10:00:00Z")]))
    expect("/contacts").respond_with_json(page([contact(1)]))
    # the cursor moved under a new event: E2 comes again on the next page
    expect("/events").respond_with_json(page([event(1), event(2)], "p2"))
    expect("/events").respond_with_json(page([event(2), event(3)]))
    for day in days:
        ingest.extract("contacts", day)
        ingest.extract("events", day)
        ingest.load(day)
        ingest.merge(day)
    http_source.check_assertions()
    with db.transaction() as conn:
        ids = conn.exec_driver_sql("select event_id from journeyflow.events order by 1").scalars()
        assert list(ids) == (["E0"] if core_has_events else []) + ["E1", "E2", "E3"]
