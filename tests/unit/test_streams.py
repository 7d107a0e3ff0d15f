"""Record mappers: good records become rows, malformed ones raise Malformed with a reason."""

import pytest

from journeyflow.source import Malformed
from journeyflow.source.streams import CONTACT_COLUMNS, EVENT_COLUMNS, contact_row, event_row

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
    assert row["updated_at"] == "2026-01-02T09:00:00+00:00"


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


def test_event_row_types_the_properties_the_rules_read():
    row = dict(zip(EVENT_COLUMNS, event_row(EVENT), strict=True))
    assert row["amount"] == 19.9 and row["currency"] == "EUR" and row["order_id"] == "O1"
    assert row["properties"].startswith("{")


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
