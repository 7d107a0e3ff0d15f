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
        ({"contact_id": None}, "missing contact_id"),
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
