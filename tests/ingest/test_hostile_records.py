"""Property tests: whole pages of hostile records through the real HTTP client, COPY and merge.

Hypothesis generates contacts and events in the shapes of the source contract, spoils some of
their fields (control characters, NUL, lone surrogates, right-to-left marks, megabytes,
timestamps of the years 1 to 9999 with any offset, leap seconds, numbers out of every range, wrong
JSON types) and serves them in pages from a local HTTP server. Whatever it generates, extract,
load and merge succeed, every record is in the warehouse or in quarantine with a reason, the
watermarks only move to plausible timestamps, and no other table changes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug import Response

D = date(2026, 11, 20)
# tables the ingest steps write; every other table of the warehouse must stay as it was
INGEST_TABLES = ("contacts", "events", "quarantine", "watermarks", "pipeline_steps")
CONTACT_TEXT = (
    "email", "salutation", "title", "first_name", "last_name", "company", "street",
    "house_number", "postal_code", "city", "country", "language",
)  # fmt: skip
HOSTILE = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# -- values --------------------------------------------------------------------------------------

NASTY_TEXT = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\udc80\ud800", "\u202eevil\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd", "\ufeffBOM", "\r", "a\rb", "\r\n", "\n\\.\n", "\\.",
    "\\u0000", '"', '","', "\\", "\t", "\x1b[31m", "\x7f", "\u0085", "\u2028", "\U0001f600",
    "x" * 201, "\u00fc" * 5000, "y" * (1 << 20),
]  # fmt: skip
RAW_NUMBERS = [
    "1e400", "-1e400", "1e-400", "1" * 5000, "123456789012345678901234567890", "-0", "0.1e1",
    "999999999999.995", "999999999999.99", "1E2", "4.9e-324", "1.7976931348623157e308",
]  # fmt: skip
NASTY_TIMESTAMPS = [
    "", "nie", "20.11.2026", "2026-13-01T00:00:00Z", "2026-11-20T10:00:00+24:00",
    "2026-11-20T10:00:00+16:00", "2026-11-20T10:00:00+15:59", "2026-11-20T10:00:00,5+01:00",
    "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z", "2026-11-20T10:00:00.1234567891234Z", "+12026-11-20T10:00:00Z",
    "2016-12-31T23:59:60Z", "2026-11-20T24:00:00Z", "2026-11-20T10:00:00", "2026-W47-5T10:00Z",
    "20261120T100000Z", "2026-11-20 10:00:00+01:00", "2026-11-20t10:00:00z", "2099-01-01T00:00:00Z",
    "\u0662\u0660\u0662\u0666-11-20T10:00:00Z",
]  # fmt: skip
_RAW_MARK = "\ue000NUM:"  # a raw number literal, written into the body unquoted


def raw_number(literal: str) -> str:
    return _RAW_MARK + literal


def encode(doc) -> bytes:
    """JSON as a source might send it: lone surrogates escaped, raw number literals unquoted."""
    text = json.dumps(doc)  # ensure_ascii: lone surrogates become \\udxxx escapes
    return re.sub(r'"\\ue000NUM:([^"]*)"', r"\1", text).encode()


any_text = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=30),
    st.sampled_from(NASTY_TEXT),
)
numbers = st.one_of(
    st.integers(),
    st.floats(),  # NaN and Infinity become the non-standard literals
    st.sampled_from(RAW_NUMBERS).map(raw_number),
)
offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)


@st.composite
def timestamps(draw) -> str:
    """Any timestamp of the years 1 to 9999 in many spellings, or a broken one."""
    dt = draw(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
    )
    tz = draw(offsets)
    spellings = [
        dt.replace(tzinfo=tz).isoformat(),
        dt.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        dt.replace(tzinfo=tz).isoformat(sep=" ", timespec="minutes"),
        dt.replace(tzinfo=tz).isoformat(timespec="microseconds").replace(".", ","),
        dt.isoformat(),
        f"{dt.date().isoformat()}T23:59:60{tz.tzname(None).replace('UTC', '') or 'Z'}",
    ]
    return draw(st.one_of(st.sampled_from(spellings), st.sampled_from(NASTY_TIMESTAMPS)))


recent = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 20, 23)).map(
    lambda dt: dt.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
)
# the replication keys: mostly recent, else from the future, from before oldest_event, at the
# edge of T + future_grace_hours (2026-11-22 00:00 Berlin), or anything a timestamp can be
replicated = st.one_of(
    recent,
    st.sampled_from([
        "2999-01-01T00:00:00Z", "2026-11-21T22:59:59.999999Z", "2026-11-21T23:00:00Z",
        "2026-11-22T00:00:00+01:00", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
    ]),
    timestamps(),
)  # fmt: skip
junk = st.one_of(
    st.none(), st.booleans(), st.builds(list), st.builds(dict), st.lists(numbers, max_size=2),
    st.dictionaries(any_text, any_text, max_size=2),
)  # fmt: skip
any_value = st.one_of(any_text, numbers, timestamps(), junk)


def ids(prefix: str, n: int):
    """A usable id (unique by n), a spoiled one, or something that is no id at all."""
    unique = f"{prefix}{n}"
    return st.one_of(
        st.just(unique),
        any_text.map(lambda s: f"{unique}|{s}"),
        st.sampled_from([None, "", "   ", True, n, 10**30, 1.5]),
        st.builds(lambda: [unique]),
        st.builds(lambda: {"id": unique}),
    )


# -- records -------------------------------------------------------------------------------------

CONTACT_FIELDS = (
    "id", *CONTACT_TEXT, "birthday", "email_consent", "email_consent.status",
    "email_consent.confirmed_at", "email_consent.source", "email_consent.ip",
    "email_consent.text", "postal_opt_out", "created_at", "updated_at",
)  # fmt: skip
EVENT_FIELDS = (
    "id", "contact_id", "type", "occurred_at", "properties", "properties.amount",
    "properties.currency", "properties.product", "properties.rating", "properties.channel",
    "properties.kind", "properties.order_id", "properties.*",
)  # fmt: skip


def spoil(draw, rec: dict, fields: tuple[str, ...], n: int, prefix: str) -> dict:
    for field in draw(st.sets(st.sampled_from(fields), max_size=3)):
        top, _, sub = field.partition(".")
        if field == "id":
            value = draw(ids(prefix, n))
        elif field.endswith(("_at", "birthday")):
            value = draw(st.one_of(timestamps(), any_value))
        else:
            value = draw(any_value)
        if not sub:
            rec[top] = value
        elif isinstance(rec.get(top), dict):
            rec[top][draw(any_text) if sub == "*" else sub] = value
    return rec


@st.composite
def contact(draw, n: int) -> dict:
    updated = draw(replicated)
    rec = {
        "n": n,
        "id": f"C{n}",
        "email": f"kunde{n}@example.de",
        "salutation": draw(st.sampled_from(["Frau", "Herr", None])),
        "title": draw(st.sampled_from(["Dr.", None])),
        "first_name": "Käthe",
        "last_name": "Größer",
        "company": None,
        "street": "Schloßstraße",
        "house_number": "3a",
        "postal_code": "01067",
        "city": "Dresden",
        "country": draw(st.sampled_from(["DE", "AT", "CH"])),
        "language": "de",
        "birthday": "1980-02-29",
        "email_consent": {
            "status": "confirmed",
            "confirmed_at": updated,
            "source": "form",
            "ip": "192.0.2.1",
            "text": "Ja, ich möchte den Newsletter erhalten.",
        },
        "postal_opt_out": False,
        "created_at": "2024-01-01T08:00:00Z",
        "updated_at": updated,
    }
    return spoil(draw, rec, CONTACT_FIELDS, n, "C")


@st.composite
def event(draw, n: int, contact_ids: list[str]) -> dict:
    kind = draw(st.sampled_from(["purchase", "review", "page_view", "email_click", "referral"]))
    props: dict = {
        "purchase": {"order_id": f"O{n}", "amount": 19.9, "currency": "EUR", "product": "Stativ"},
        "review": {"rating": 4, "product": "Stativ"},
    }.get(kind, {"channel": "email", "kind": "newsletter"})
    rec = {
        "n": n,
        "id": f"E{n}",
        "contact_id": draw(st.sampled_from([*contact_ids, "C-unknown"])),
        "type": kind,
        "occurred_at": draw(replicated),
        "properties": props,
    }
    return spoil(draw, rec, EVENT_FIELDS, n, "E")


@st.composite
def batches(draw) -> tuple[list, list]:
    n_contacts = draw(st.integers(1, 10))
    contacts = [draw(contact(n)) for n in range(n_contacts)]
    contact_ids = [c["id"] for c in contacts if isinstance(c.get("id"), str)]
    events = [draw(event(n, contact_ids)) for n in range(draw(st.integers(0, 14)))]
    for records in (contacts, events):  # now and then a record that is no object at all
        for _ in range(draw(st.integers(0, 1))):
            records.insert(
                draw(st.integers(0, len(records))),
                draw(st.sampled_from(["C1", 42, None, [1], True, raw_number("1e400")])),
            )
    return contacts, events


def paged(records: list, sizes) -> list[bytes]:
    """The records as pages with cursors "1", "2", ..."""
    pages, start = [], 0
    for size in sizes:
        if start >= len(records):
            break
        pages.append(records[start : start + size])
        start += size
    if start < len(records):
        pages.append(records[start:])
    pages = pages or [[]]
    return [
        encode({"data": data, "next_cursor": str(i + 1) if i + 1 < len(pages) else None})
        for i, data in enumerate(pages)
    ]


# -- the pipeline --------------------------------------------------------------------------------


def serve(httpserver, path: str, pages: list[bytes]) -> None:
    def answer(request):
        body = pages[int(request.args.get("cursor") or 0)]
        return Response(body, content_type="application/json")

    httpserver.expect_request(path).respond_with_handler(answer)


def other_tables(conn) -> dict:
    """A content hash of every warehouse table the ingest steps must not touch."""
    names = conn.exec_driver_sql(
        "select table_name from information_schema.tables where table_schema = 'journeyflow' "
        "and table_type = 'BASE TABLE' order by 1"
    ).scalars()
    return {
        name: conn.exec_driver_sql(
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from journeyflow.{name} t"
        ).one()
        for name in names
        if name not in INGEST_TABLES
    }


def clean(conn) -> None:
    conn.exec_driver_sql(
        "truncate journeyflow.contacts, journeyflow.events, journeyflow.quarantine, "
        "journeyflow.watermarks, journeyflow.pipeline_steps, journeyflow_staging.contacts, "
        "journeyflow_staging.events, journeyflow_staging.batch"
    )


def usable_id(rec) -> str | None:
    value = rec.get("id") if isinstance(rec, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def run_and_check(db, httpserver, contacts: list, events: list) -> None:
    """Pull both streams, load and merge D; then account for every record."""
    from journeyflow import ingest
    from journeyflow.config import load_config

    with db.transaction() as conn:
        clean(conn)
        before = other_tables(conn)
    httpserver.clear()
    serve(httpserver, "/contacts", paged(contacts, [4, 1, 3, 2]))
    serve(httpserver, "/events", paged(events, [3, 5, 1, 4]))

    ingest.extract("contacts", D)
    ingest.extract("events", D)
    ingest.load(D)
    ingest.merge(D)

    with db.transaction() as conn:
        assert other_tables(conn) == before
        loaded = {
            "contacts": {
                r.contact_id: r
                for r in conn.exec_driver_sql(
                    f"select contact_id, {', '.join(CONTACT_TEXT)} from journeyflow.contacts"
                )
            },
            "events": {
                r.event_id: r
                for r in conn.exec_driver_sql(
                    "select event_id, contact_id, type from journeyflow.events"
                )
            },
        }
        kept = conn.exec_driver_sql(
            "select stream, record_id, reason, raw from journeyflow.quarantine"
        ).all()
        marks = dict(conn.exec_driver_sql("select stream, value from journeyflow.watermarks").all())
        cfg = load_config()
        latest = cfg.cutoff(D) + timedelta(hours=cfg.quality.future_grace_hours)
        oldest = datetime.combine(cfg.quality.oldest_event, datetime.min.time(), tzinfo=UTC)
        plausible = {
            "contacts": conn.exec_driver_sql(
                "select max(updated_at) from journeyflow.contacts where updated_at < %(l)s",
                {"l": latest},
            ).scalar(),
            "events": conn.exec_driver_sql(
                "select max(occurred_at) from journeyflow.events "
                "where occurred_at >= %(o)s and occurred_at < %(l)s",
                {"o": oldest, "l": latest},
            ).scalar(),
        }

    for row in kept:
        assert row.reason and row.reason.strip()
        assert not row.reason.startswith("could not be mapped"), row.reason  # a mapper bug
    for stream, records in (("contacts", contacts), ("events", events)):
        rows = [r for r in kept if r.stream == stream]
        by_n = {r.raw["n"] for r in rows if isinstance(r.raw, dict) and "n" in r.raw}
        by_id = {r.record_id for r in rows}
        others = [r for r in records if not isinstance(r, dict)]
        in_core = 0
        for rec in records:
            if not isinstance(rec, dict):
                continue
            rid = usable_id(rec)
            quarantined = rec["n"] in by_n or (stream == "events" and rid in by_id)
            assert (rid in loaded[stream]) != quarantined, (stream, rec["n"])
            in_core += rid in loaded[stream]
            if stream == "contacts" and rid in loaded[stream]:
                row = loaded[stream][rid]
                for key in CONTACT_TEXT:  # stored as sent (empty strings as NULL)
                    assert getattr(row, key) == (rec.get(key) or None), (rid, key)
        assert in_core == len(loaded[stream])  # nothing else arrived
        # records that are no object are kept once per distinct value
        assert len([r for r in rows if not isinstance(r.raw, dict)]) == len(
            {json.dumps(r) for r in others}
        )
        assert marks.get(stream) == plausible[stream]


@HOSTILE
@given(batch=batches())
def test_every_hostile_record_is_loaded_or_quarantined(db, http_source, batch):
    contacts, events = batch
    run_and_check(db, http_source, contacts, events)


def test_each_known_hostile_value_in_each_kind_of_field(db, http_source):
    """Every listed nasty value once in a name, an id, a timestamp and in properties."""
    contacts, events = [], []
    numbers = [raw_number(literal) for literal in RAW_NUMBERS]
    for n, value in enumerate(NASTY_TEXT + NASTY_TIMESTAMPS + numbers):
        c = {"id": f"C{n}", "email": f"k{n}@example.de", "updated_at": "2026-11-20T09:00Z"}
        contacts += [
            {**c, "n": n, "street": value},
            {**c, "n": n + 1000, "id": f"C{n}|{value}"},
            {**c, "n": n + 2000, "id": f"C{n + 2000}", "updated_at": value},
            {**c, "n": n + 3000, "id": f"C{n + 3000}", "email_consent": {"confirmed_at": value}},
        ]
        e = {"contact_id": "C0", "type": "purchase", "occurred_at": "2026-11-20T09:00:00Z"}
        key = "number" if value in numbers else value
        events += [
            {**e, "n": n, "id": f"E{n}", "occurred_at": value},
            {**e, "n": n + 1000, "id": f"E{n + 1000}", "properties": {"amount": value}},
            {**e, "n": n + 2000, "id": f"E{n + 2000}", "properties": {"product": value}},
            {**e, "n": n + 3000, "id": f"E{n + 3000}", "properties": {key: [value]}},
        ]
    run_and_check(db, http_source, contacts, events)
    with db.transaction() as conn:
        big = conn.exec_driver_sql(
            "select record_id, reason, raw from journeyflow.quarantine "
            "where raw ->> 'n' = %(n)s and stream = 'contacts'",
            {"n": str(NASTY_TEXT.index("y" * (1 << 20)))},
        ).one()
    assert big.record_id == f"C{NASTY_TEXT.index('y' * (1 << 20))}"
    assert big.reason == "street: longer than 200 characters"
    assert big.raw["street"].startswith("yyy") and big.raw["street"].endswith("characters, cut]")
    assert len(json.dumps(big.raw)) < 70_000  # a megabyte record is kept cut, with id and reason


def test_a_quarantined_record_with_a_number_of_5000_digits_reads_back(db, http_source):
    """An event of an unknown contact is quarantined as it came; its 5,000-digit number reads
    back from the warehouse (as a Decimal: Python's int() stops at 4,300 digits)."""
    contact = {"n": 0, "id": "C0", "email": "k0@example.de", "updated_at": "2026-11-20T09:00Z"}
    event = {"n": 0, "id": "E0", "contact_id": "C-unknown", "type": "purchase",
             "occurred_at": "2026-11-20T09:00:00Z",
             "properties": {"amount": 19.9, "": raw_number("1" * 5000)}}  # fmt: skip
    run_and_check(db, http_source, [contact], [event])
    with db.transaction() as conn:
        raw = conn.exec_driver_sql(
            "select raw from journeyflow.quarantine where record_id = 'E0'"
        ).scalar()
    assert raw["properties"][""] == Decimal("1" * 5000)
    assert raw["properties"]["amount"] == 19.9 and raw["id"] == "E0"


def test_records_no_decoder_can_read_are_quarantined_and_the_page_goes_on(db, http_source):
    """Nesting deeper than any JSON decoder goes, and bytes that are not UTF-8, in one record of
    a page: the other records of the page are loaded."""
    deep = b'{"id": "C2", "n": 2, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    latin1 = b'{"id": "C3", "n": 3, "street": "Stra\xdfe", "updated_at": "2026-11-20T09:00Z"}'
    good = [encode({"id": f"C{n}", "n": n, "updated_at": "2026-11-20T09:00:00Z"}) for n in (1, 4)]
    body = b'{"data": [%s, %s, %s, %s], "next_cursor": null}' % (good[0], deep, latin1, good[1])
    with db.transaction() as conn:
        clean(conn)
    http_source.expect_request("/contacts").respond_with_data(body, content_type="application/json")
    http_source.expect_request("/events").respond_with_json({"data": [], "next_cursor": None})
    from journeyflow import ingest

    assert ingest.extract("contacts", D).quarantined == 2
    ingest.extract("events", D)
    ingest.load(D)
    ingest.merge(D)
    with db.transaction() as conn:
        ids = conn.exec_driver_sql("select contact_id from journeyflow.contacts order by 1")
        assert list(ids.scalars()) == ["C1", "C4"]
        kept = conn.exec_driver_sql(
            "select record_id, reason from journeyflow.quarantine order by 2"
        ).all()
    assert [tuple(r) for r in kept] == [
        (None, "record: nested too deeply to read"),
        ("C3", "street: contains a lone surrogate or bytes that are not UTF-8"),
    ]


def comparable(stream, rows: list[tuple]) -> list[tuple]:
    """Rows with an event's properties parsed (both paths write the same JSON, spelled apart)."""
    if stream.name != "events":
        return rows
    # integers as their text (a property may hold one of thousands of digits), -0 as 0
    return [(*row[:-1], json.loads(row[-1], parse_int=_integer)) for row in rows]


def _integer(text: str) -> str:
    return "0" if text.strip("-0") == "" else text


@HOSTILE
@given(batch=batches())
def test_fast_and_careful_paths_agree_on_hostile_records(batch):
    """Every record maps to the same row, or the same reason, on the typed fast path as on the
    careful path: the size limits, characters, timestamps and numbers are the same rules."""
    from journeyflow.ingest import CONTACTS, EVENTS
    from journeyflow.ingest.pages import Page, contract_page, decode_record

    for stream, records in zip((CONTACTS, EVENTS), batch, strict=True):
        for record in records:
            fast = contract_page(encode({"data": [record], "next_cursor": None}))
            if fast is None:  # a page strict decoders refuse is read the careful way only
                continue
            careful = Page(None, decoded=[decode_record(raw) for raw in fast.raws])
            rows, _, bad = stream.map_records(fast)
            rows_careful, _, bad_careful = stream.map_records(careful)
            assert comparable(stream, rows) == comparable(stream, rows_careful)
            assert [b[:2] for b in bad] == [b[:2] for b in bad_careful]
