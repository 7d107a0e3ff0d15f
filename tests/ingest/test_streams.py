"""Record mappers: good records become rows, malformed ones raise Malformed with a reason."""

import pytest

from journeyflow.ingest import Malformed
from journeyflow.ingest.streams import CONTACT_COLUMNS, EVENT_COLUMNS, contact_row, event_row

CONTACT = {
    "id": "C1",
    "email": "jürgen.weiß@example.de",
    "salutation": "Herr",
    "first_name": "Jürgen",
    "last_name": "Weiß",
    "street": "Schloßplatz",
    "house_number": "3a",
    "postal_code": "01067",
    "city": "Dresden",
    "country": "DE",
    "language": "de",
    "birthday": "1980-02-29",
    "email_consent": {"status": "confirmed", "confirmed_at": "2026-01-02T10:00:00+01:00"},
    "postal_opt_out": False,
    "created_at": "2026-01-01T09:00:00Z",
    "updated_at": "2026-01-02T09:00:00Z",
}
EVENT = {
    "id": "E1",
    "contact_id": "C1",
    "type": "purchase",
    "occurred_at": "2026-03-01T12:00:00Z",
    "properties": {"order_id": "O1", "amount": 19.9, "currency": "EUR", "product": "Stativ"},
}


def test_contact_row_maps_every_column():
    row = dict(zip(CONTACT_COLUMNS, contact_row(CONTACT), strict=True))
    assert row["contact_id"] == "C1"
    assert row["postal_code"] == "01067"
    assert row["consent_status"] == "confirmed"
    assert row["consent_confirmed_at"] == "2026-01-02T10:00:00+01:00"
    assert row["updated_at"] == "2026-01-02T09:00:00Z"  # the common ISO shape passes unchanged


def test_contact_without_consent_or_created_at_gets_defaults():
    rec = {"id": "C2", "updated_at": "2026-01-02T09:00:00Z"}
    row = dict(zip(CONTACT_COLUMNS, contact_row(rec), strict=True))
    assert row["consent_status"] == "none"
    assert row["postal_opt_out"] is False
    assert row["created_at"] == row["updated_at"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"id": ""}, "missing id"),
        ({"id": ["C1"]}, "id: not a string"),
        ({"updated_at": "gestern"}, "updated_at: unparseable timestamp"),
        ({"updated_at": "2026-01-02T09:00:00"}, "updated_at: timestamp without a UTC offset"),
        ({"updated_at": None}, "updated_at: missing timestamp"),
        ({"created_at": "31.12.2023"}, "created_at: unparseable timestamp"),
        ({"email": 42}, "email: expected a string, got int"),
        ({"postal_code": 1067}, "postal_code: expected a string"),
        ({"birthday": "1980-02-30"}, "birthday: not a YYYY-MM-DD date"),
        ({"email_consent": "yes"}, "email_consent: expected an object"),
        ({"email_consent": {"status": "confirmed", "confirmed_at": "soon"}}, "confirmed_at"),
        ({"postal_opt_out": "no"}, "postal_opt_out: expected true or false"),
    ],
)
def test_malformed_contacts_name_the_reason(change, reason):
    with pytest.raises(Malformed) as err:
        contact_row({**CONTACT, **change})
    assert reason in err.value.reason


def test_event_row_keeps_properties_as_json():
    row = dict(zip(EVENT_COLUMNS, event_row(EVENT), strict=True))
    assert (
        row["properties"] == '{"order_id":"O1","amount":19.9,"currency":"EUR","product":"Stativ"}'
    )
    assert event_row({**EVENT, "properties": None})[-1] == "{}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"contact_id": None}, "missing contact_id (or anonymous_id for an anonymous visitor)"),
        ({"type": None}, "type: missing"),
        ({"occurred_at": "2026-13-01T00:00:00Z"}, "occurred_at: unparseable timestamp"),
        ({"properties": [1]}, "properties: expected an object"),
        ({"properties": {"amount": "19,90"}}, "properties.amount: expected a number"),
        ({"properties": {"amount": True}}, "properties.amount: expected a number"),
        ({"properties": {"amount": 1e15}}, "properties.amount: out of range"),
        ({"properties": {"rating": 4.5}}, "properties.rating: expected a whole number"),
        ({"properties": {"currency": 978}}, "currency: expected a string, got int"),
    ],
)
def test_malformed_events_name_the_reason(change, reason):
    with pytest.raises(Malformed) as err:
        event_row({**EVENT, **change})
    assert reason in err.value.reason
    if change.get("id", "E1") is not None:
        assert err.value.record_id == "E1"


def test_non_object_record_is_malformed():
    with pytest.raises(Malformed, match="not an object"):
        event_row(["E1"])


def test_fast_and_careful_paths_stage_the_same_rows():
    """The typed fast path must agree with the record-by-record mapper on every clean record."""
    from datetime import date

    import msgspec
    import orjson

    from journeyflow.ingest import CONTACTS, EVENTS, Malformed
    from journeyflow.ingest.client import Unusual
    from journeyflow.local.demo_source import DemoDataset

    ds = DemoDataset(300, anchor=date(2026, 11, 20))
    clock = ds.t_anchor
    contacts = [c for i in range(ds.size) if (c := ds.contact_as_of(ds.timeline(i), clock))]
    events = [e for i in range(ds.size) for e in ds.event_records(ds.timeline(i), -1e12, clock)]
    checked = 0
    for stream, records in ((CONTACTS, contacts), (EVENTS, events)):
        decoder = stream.record_decoder
        for rec in records:
            try:
                careful = stream.to_row(rec)
            except Malformed:
                continue
            try:
                typed = decoder.decode(orjson.dumps(rec))
                fast = stream.struct_row(typed)
            except (Unusual, msgspec.ValidationError):
                continue
            if stream is EVENTS:  # same JSON, maybe spelled differently
                careful, fast = (
                    careful[:-1] + (orjson.loads(careful[-1]),),
                    fast[:-1] + (orjson.loads(fast[-1]),),
                )
            assert fast == careful
            checked += 1
    assert checked > 2500


VISITOR = {"id": "V1", "anonymous_id": "A1", "type": "page_view",
           "occurred_at": "2026-11-20T12:00:00Z", "properties": {"path": "/"}}  # fmt: skip


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (VISITOR, ("V1", None, "A1", "page_view")),
        ({**VISITOR, "type": "identify", "contact_id": "C1"}, ("V1", "C1", "A1", "identify")),
        ({**VISITOR, "contact_id": "C1"}, ("V1", "C1", None, "page_view")),  # the contact's own
        ({**VISITOR, "anonymous_id": None}, "missing contact_id (or anonymous_id"),
        ({**VISITOR, "type": "identify"}, "identify: needs both contact_id and anonymous_id"),
        ({**VISITOR, "type": "erasure_request"}, "erasure_request: missing contact_id"),
        ({**VISITOR, "anonymous_id": " "}, "anonymous_id: blank"),
        ({**VISITOR, "anonymous_id": 7}, ("V1", None, "7", "page_view")),
        ({**VISITOR, "contact_id": "C1", "anonymous_id": " "}, ("V1", "C1", None, "page_view")),
        ({**VISITOR, "contact_id": "C1", "anonymous_id": ""}, ("V1", "C1", None, "page_view")),
    ],
)
def test_anonymous_visitors_and_identify_take_both_paths_alike(rec, expected):
    from journeyflow.ingest import EVENTS

    careful, fast = both_paths(EVENTS, rec)
    if isinstance(expected, str):
        assert careful.startswith(expected)
        assert fast is None or fast == careful
    else:
        assert careful[:4] == expected
        assert fast is None or fast == careful


# -- what a field may hold: size limits, characters, timestamps ------------------------------------


def both_paths(stream, rec: dict) -> tuple:
    """What the careful path and the page's typed fast path make of one record: its staging row
    (an event's properties parsed) or the reason it goes to quarantine. The fast result is None
    when strict decoders refuse the page, which then goes the careful way as a whole."""
    import json

    from journeyflow.ingest.pages import Page, contract_page

    def result(page) -> tuple | str:
        rows, _, bad = stream.map_records(page)
        if bad:
            return bad[0][1]
        return (*rows[0][:-1], json.loads(rows[0][-1])) if stream.name == "events" else rows[0]

    fast = contract_page(json.dumps({"data": [rec], "next_cursor": None}).encode())
    return result(Page(None, decoded=[rec])), None if fast is None else result(fast)


def put(rec: dict, field: str, value) -> dict:
    top, _, sub = field.partition(".")
    return {**rec, top: {**rec.get(top, {}), sub: value} if sub else value}


def limited_fields() -> list:
    from journeyflow.ingest import CONTACTS, EVENTS
    from journeyflow.ingest.values import LIMITS

    params = []
    for field, limit in LIMITS.items():
        top = field.partition(".")[0]
        if field in ("id", "contact_id", "type") or top == "properties":
            params.append(pytest.param(EVENTS, EVENT, field, limit, id=f"events.{field}"))
        if field == "anonymous_id":  # read where there is no contact_id
            params.append(pytest.param(EVENTS, VISITOR, field, limit, id=f"events.{field}"))
        if (top in CONTACT_COLUMNS and top != "contact_id") or top in ("email_consent", "id"):
            params.append(pytest.param(CONTACTS, CONTACT, field, limit, id=f"contacts.{field}"))
    return params


@pytest.mark.parametrize(("stream", "base", "field", "limit"), limited_fields())
def test_both_paths_hold_a_field_to_the_same_limit(stream, base, field, limit):
    careful, fast = both_paths(stream, put(base, field, "x" * limit))
    assert isinstance(careful, tuple) and fast == careful
    careful, fast = both_paths(stream, put(base, field, "x" * (limit + 1)))
    assert careful == fast == f"{field}: longer than {limit:,} characters"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"email": "a\x00b@example.de"}, "email: contains a NUL character (\\u0000)"),
        (
            {"street": "Stra\ud800e"},
            "street: contains a lone surrogate or bytes that are not UTF-8",
        ),
        ({"id": "C\x001"}, "id: contains a NUL character (\\u0000)"),
        ({"id": "   "}, "id: blank"),
        ({"id": 10**300}, "id: longer than 200 characters"),
        ({"email_consent": {"status": False}}, "email_consent.status: expected a string"),
        ({"updated_at": "0001-01-01T00:00:00+05:00"}, "updated_at: out of range"),
        ({"updated_at": "9999-12-31T23:59:59-05:00"}, "updated_at: out of range"),
        ({"updated_at": "2026-11-20T10:00:00+24:00"}, "updated_at: unparseable timestamp"),
    ],
)
def test_what_postgresql_cannot_store_is_named(change, reason):
    from journeyflow.ingest import CONTACTS

    careful, fast = both_paths(CONTACTS, {**CONTACT, **change})
    assert careful.startswith(reason)
    assert fast in (None, careful)


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"product": "a\x00b"}, "properties.product: contains a NUL character"),
        ({"a\x00": 1}, "properties: contains a NUL character"),
        ({"note": ["\udc80"]}, "properties: contains a lone surrogate"),
        ({"note": "x" * 70_000}, "properties: longer than 65,536 bytes as JSON"),
        ({"amount": 1e12}, "properties.amount: out of range (at most 999,999,999,999.99)"),
        ({"amount": float("nan")}, "properties.amount: out of range"),
        ({"rating": 10**6}, "properties.rating: out of range"),
    ],
)
def test_what_jsonb_cannot_store_is_named(props, reason):
    from journeyflow.ingest import EVENTS

    careful, fast = both_paths(EVENTS, {**EVENT, "properties": props})
    assert careful.startswith(reason)
    assert fast in (None, careful)


@pytest.mark.parametrize(
    ("sent", "staged"),
    [
        ("2026-11-20T10:00:00+01:00", "2026-11-20T10:00:00+01:00"),  # plain: as sent
        ("2026-11-20T10:00:00.5Z", "2026-11-20T10:00:00.5Z"),
        ("0002-01-01T00:00:00Z", "0002-01-01T00:00:00Z"),
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00+00:00"),  # a leap second
        ("2026-11-20T10:00:00,5+01:00", "2026-11-20T09:00:00.500000+00:00"),
        ("2026-11-20T10:00:00+20:00", "2026-11-19T14:00:00+00:00"),  # PostgreSQL: < 16 h
        ("2026-11-20T10:00:00+01:00:30", "2026-11-20T08:59:30+00:00"),
        ("2026-11-20 10:00:00+01:00", "2026-11-20T09:00:00+00:00"),
        ("20261120T100000Z", "2026-11-20T10:00:00+00:00"),
        ("0001-01-02T00:00:00Z", "0001-01-02T00:00:00+00:00"),
    ],
)
def test_timestamps_are_staged_as_postgresql_reads_them(sent, staged):
    from journeyflow.ingest import CONTACTS

    careful, fast = both_paths(CONTACTS, {**CONTACT, "updated_at": sent})
    assert dict(zip(CONTACT_COLUMNS, careful, strict=True))["updated_at"] == staged
    assert fast == careful
