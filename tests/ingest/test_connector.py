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


# -- bounded waiting: Retry-After, page limit, loops ----------------------------------------------


@pytest.mark.parametrize("retry_after", ["3600", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_a_retry_after_longer_than_backoff_max_fails_at_once(
    httpserver, source, sleeps, retry_after
):
    httpserver.expect_request("/events").respond_with_response(
        Response("maintenance", status=503, headers={"Retry-After": retry_after})
    )
    with pytest.raises(SourceError) as err:
        list(source.pages(EVENTS, None))
    message = str(err.value)
    assert message.startswith("journeyflow_source: GET /events answered HTTP 503")
    assert "asked to retry after" in message and "source.backoff_max (60 s)" in message
    assert "journeyflow.yaml" in message
    assert sleeps == [] and source.requests_made == 1  # no waiting, no second try


def endless(records_of):
    """A handler that hands out a new cursor with every page, forever."""

    def answer(request):
        n = int(request.args.get("cursor") or 0)
        return Response(
            json.dumps(page(records_of(n), str(n + 1))), content_type="application/json"
        )

    return answer


@pytest.mark.parametrize("records_of", [lambda n: [contact(n)], lambda n: []], ids=["new", "empty"])
def test_a_source_that_never_ends_stops_at_max_pages(httpserver, sleeps, records_of):
    config = SourceConfig(page_size=1, max_retries=0, max_pages=5)
    source = HttpSource(httpserver.url_for(""), "tok", config, sleep=sleeps.append)
    httpserver.expect_request("/contacts").respond_with_handler(endless(records_of))
    got = []
    with pytest.raises(SourceError) as err:
        for p in source.pages(CONTACTS, None):
            got.append(p)
    assert len(got) == 5 and source.requests_made == 5
    message = str(err.value)
    assert message.startswith("journeyflow_source: GET /contacts still had a next cursor after 5")
    assert "raise source.max_pages in journeyflow.yaml" in message


def test_a_stream_of_exactly_max_pages_is_read(httpserver, sleeps):
    config = SourceConfig(page_size=1, max_pages=3)
    source = HttpSource(httpserver.url_for(""), "tok", config, sleep=sleeps.append)
    for n, cursor in enumerate(["1", "2", None]):
        httpserver.expect_ordered_request("/contacts").respond_with_json(page([contact(n)], cursor))
    assert sum(len(p) for p in source.pages(CONTACTS, None)) == 3


def test_a_page_repeated_under_new_cursors_is_a_loop(httpserver, source):
    httpserver.expect_request("/contacts").respond_with_handler(
        endless(lambda n: [contact(1), contact(2)])
    )
    with pytest.raises(SourceError) as err:
        list(source.pages(CONTACTS, None))
    message = str(err.value)
    assert message.startswith(
        "journeyflow_source: GET /contacts sent page 2 with exactly the records of page 1"
    )
    assert "paging in a loop" in message
    assert source.requests_made == 2


# -- through the pipeline: staging, quarantine and watermarks in the embedded PostgreSQL ---------


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


def test_a_record_from_the_future_is_merged_but_moves_no_watermark(db, http_source):
    """A far-future event (and an absurdly old one) is merged; the watermarks stay at the newest
    plausible timestamps, the next pull asks from there, and a contact whose updated_at came from
    the future takes the source's corrected version the next night."""
    from journeyflow import ingest

    future = "2999-01-01T00:00:00Z"
    expect = http_source.expect_ordered_request
    expect("/contacts").respond_with_json(
        page([contact(1, "2026-11-20T10:00:00Z"), contact(2, future)])
    )
    expect("/events").respond_with_json(
        page([
            event(1, when="2026-11-20T09:00:00Z"), event(2, when=future),
            event(3, when="1990-01-01T00:00:00Z"),
        ])
    )  # fmt: skip
    fixed = {**contact(2, "2026-11-21T08:00:00Z"), "last_name": "Korrigiert"}
    expect(
        "/contacts", query_string={"limit": "2", "updated_since": "2026-11-20T10:00:00+00:00"}
    ).respond_with_json(page([fixed]))
    expect(
        "/events", query_string={"limit": "2", "since": "2026-11-20T09:00:00+00:00"}
    ).respond_with_json(page([event(2, when=future)]))
    for day in (D, date(2026, 11, 21)):
        ingest.extract("contacts", day)
        ingest.extract("events", day)
        ingest.load(day)
        ingest.merge(day)
        if day == D:
            with db.transaction() as conn:
                marks = dict(
                    conn.exec_driver_sql("select stream, value from journeyflow.watermarks").all()
                )
            assert marks == {
                "contacts": datetime(2026, 11, 20, 10, tzinfo=UTC),
                "events": datetime(2026, 11, 20, 9, tzinfo=UTC),
            }
    http_source.check_assertions()  # the second night asked from the plausible watermarks
    with db.transaction() as conn:
        events = conn.exec_driver_sql("select event_id from journeyflow.events order by 1")
        assert list(events.scalars()) == ["E1", "E2", "E3"]
        name = conn.exec_driver_sql(
            "select last_name from journeyflow.contacts where contact_id = 'C2'"
        ).scalar()
        assert name == "Korrigiert"
        marks = dict(conn.exec_driver_sql("select stream, value from journeyflow.watermarks").all())
    assert marks["contacts"] == datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert marks["events"] == datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_a_watermark_a_future_record_moved_out_of_reach_fails_clearly(db, http_source):
    """Before merges checked plausibility, an event of 9999-12-31T23:59:59-05:00 moved the
    watermark to a year Python cannot hold, and every later run failed without saying why."""
    from journeyflow import ingest

    with db.transaction() as conn:
        conn.exec_driver_sql(
            "insert into journeyflow.watermarks values "
            "('events', '9999-12-31T23:59:59-05:00', '2026-11-19')"
        )
    with pytest.raises(RuntimeError) as err:
        ingest.extract("events", D)
    message = str(err.value)
    assert message.startswith("the events watermark in journeyflow.watermarks is 10000-01-01")
    assert "quality.future_grace_hours" in message
    assert (
        "update journeyflow.watermarks set value" in message
        and "where stream = 'events'" in message
    )
