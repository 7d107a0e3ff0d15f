"""The contract's two streams: contacts and events, each a declaration plus a row mapper.

A mapper turns one JSON record into a staging row or raises ``Malformed`` with a reason a person
can act on. Value rules (allowed consent states, rating 1..5, ...) belong to the quality gate;
here we only check what a row needs to be stored: ids, timestamps and types.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
import orjson

from journeyflow.ingest.client import Malformed, Stream, Unusual

_fromiso = datetime.fromisoformat
_MAX_AMOUNT = 1e12


def _id(rec: dict, key: str = "id") -> str:
    value = rec.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"missing {key}" if value in (None, "") else f"{key}: not a string")
    return value


def _ts(rec: dict, key: str, rid: str, required: bool = True) -> str | None:
    value = rec.get(key)
    if value is None and not required:
        return None
    if (
        type(value) is str
        and len(value) >= 20
        and value[4] == "-"
        and value[7] == "-"
        and value[10] == "T"
    ):
        # the common shape (calendar date, 'T', time, offset) goes to PostgreSQL unchanged
        try:
            if _fromiso(value).tzinfo is not None:
                return value
        except ValueError:
            raise Malformed(f"{key}: unparseable timestamp", rid) from None
    if not isinstance(value, str):
        raise Malformed(
            f"{key}: missing timestamp" if value is None else f"{key}: not a string", rid
        )
    try:
        parsed = _fromiso(value)
    except ValueError:
        raise Malformed(f"{key}: unparseable timestamp", rid) from None
    if parsed.tzinfo is None:
        raise Malformed(f"{key}: timestamp without a UTC offset", rid)
    return parsed.isoformat()


def _iso_or_unusual(value: str | None, required: bool = True) -> str | None:
    """Fast path: the value if it is a common-shape ISO timestamp with offset, else Unusual."""
    if value is None and not required:
        return None
    try:
        if (
            value[4] == "-"
            and value[7] == "-"
            and value[10] == "T"
            and _fromiso(value).tzinfo is not None
        ):
            return value
    except (TypeError, IndexError, ValueError):
        pass
    raise Unusual


def _text(rec: dict, key: str, rid: str) -> str | None:
    value = rec.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"{key}: expected a string, got {type(value).__name__}", rid)


CONTACT_COLUMNS = (
    "contact_id", "email", "salutation", "title", "first_name", "last_name", "company",
    "street", "house_number", "postal_code", "city", "country", "language", "birthday",
    "consent_status", "consent_confirmed_at", "consent_source", "consent_ip", "consent_text",
    "postal_opt_out", "created_at", "updated_at",
)  # fmt: skip
_CONTACT_TEXT = (
    "email", "salutation", "title", "first_name", "last_name", "company", "street",
    "house_number", "postal_code", "city", "country", "language",
)  # fmt: skip


def contact_row(rec: Any) -> tuple:
    if not isinstance(rec, dict):
        raise Malformed("record is not an object")
    rid = _id(rec)
    texts = [_text(rec, key, rid) for key in _CONTACT_TEXT]
    if isinstance(rec.get("postal_code"), int):  # a frequent export mistake: PLZ as a number
        raise Malformed("postal_code: expected a string (a number loses leading zeros)", rid)
    birthday = rec.get("birthday")
    if birthday is not None:
        try:
            birthday = date.fromisoformat(birthday).isoformat()
        except (TypeError, ValueError):
            raise Malformed("birthday: not a YYYY-MM-DD date", rid) from None
    consent = rec.get("email_consent")
    if consent is None:
        consent = {}
    elif not isinstance(consent, dict):
        raise Malformed("email_consent: expected an object", rid)
    status = consent.get("status") or "none"
    if not isinstance(status, str):
        raise Malformed("email_consent.status: expected a string", rid)
    confirmed_at = _ts(consent, "confirmed_at", rid, required=False)
    opt_out = rec.get("postal_opt_out")
    if opt_out is None:
        opt_out = False
    elif not isinstance(opt_out, bool):
        raise Malformed("postal_opt_out: expected true or false", rid)
    updated_at = _ts(rec, "updated_at", rid)
    created_at = _ts(rec, "created_at", rid, required=False) or updated_at
    return (
        rid, *texts, birthday,
        status, confirmed_at, _text(consent, "source", rid), _text(consent, "ip", rid),
        _text(consent, "text", rid), opt_out, created_at, updated_at,
    )  # fmt: skip


class ConsentRecord(msgspec.Struct):
    status: str | None = None
    confirmed_at: str | None = None
    source: str | None = None
    ip: str | None = None
    text: str | None = None


class ContactRecord(msgspec.Struct):
    id: str
    updated_at: str
    email: str | None = None
    salutation: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    street: str | None = None
    house_number: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    language: str | None = None
    birthday: str | None = None
    email_consent: ConsentRecord | None = None
    postal_opt_out: bool | None = None
    created_at: str | None = None


_NO_CONSENT = ConsentRecord()


def contact_struct_row(c: ContactRecord) -> tuple:
    if not c.id.strip():
        raise Unusual
    updated_at = _iso_or_unusual(c.updated_at)
    consent = c.email_consent or _NO_CONSENT
    birthday = c.birthday
    if birthday is not None:
        try:
            birthday = date.fromisoformat(birthday).isoformat()
        except ValueError:
            raise Unusual from None
    return (
        c.id, c.email, c.salutation, c.title, c.first_name, c.last_name, c.company, c.street,
        c.house_number, c.postal_code, c.city, c.country, c.language, birthday,
        consent.status or "none", _iso_or_unusual(consent.confirmed_at, required=False),
        consent.source, consent.ip, consent.text, bool(c.postal_opt_out),
        _iso_or_unusual(c.created_at, required=False) or updated_at, updated_at,
    )  # fmt: skip


EVENT_COLUMNS = ("event_id", "contact_id", "type", "occurred_at", "properties")
# properties the rulebook reads, with the JSON type each must have; staging types them in SQL
_STRING_PROPS = ("order_id", "currency", "product", "referred_contact_id", "channel", "kind")
_dumps = orjson.dumps


def event_row(rec: Any) -> tuple:
    # the hot loop of every extract: plain type() checks first, the careful path on a miss
    if type(rec) is not dict:
        raise Malformed("record is not an object")
    rid = rec.get("id")
    if type(rid) is not str or not rid:
        rid = _id(rec)
    contact_id = rec.get("contact_id")
    if type(contact_id) is not str or not contact_id:
        try:
            contact_id = _id(rec, "contact_id")
        except Malformed as exc:
            raise Malformed(exc.reason, rid) from None
    kind = rec.get("type")
    if type(kind) is not str or not kind:
        raise Malformed("type: missing or not a string", rid)
    occurred_at = _ts(rec, "occurred_at", rid)
    props = rec.get("properties")
    if not props:
        if props is None or type(props) is dict:
            return (rid, contact_id, kind, occurred_at, "{}")
        raise Malformed("properties: expected an object", rid)
    if type(props) is not dict:
        raise Malformed("properties: expected an object", rid)
    amount = props.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise Malformed("properties.amount: expected a number", rid)
        if abs(amount) >= _MAX_AMOUNT:
            raise Malformed("properties.amount: out of range", rid)
    rating = props.get("rating")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int):
            raise Malformed("properties.rating: expected a whole number", rid)
        if not -32768 <= rating <= 32767:
            raise Malformed("properties.rating: out of range", rid)
    for key in _STRING_PROPS:
        if key in props:
            _text(props, key, rid)
    return (rid, contact_id, kind, occurred_at, _dumps(props).decode())


class EventRecord(msgspec.Struct):
    id: str
    contact_id: str
    type: str
    occurred_at: str
    properties: msgspec.Raw = msgspec.Raw(b"null")


class _Properties(msgspec.Struct):
    """The properties the rulebook reads, with the JSON type each must have."""

    amount: float | None = None
    rating: int | None = None
    order_id: str | None = None
    currency: str | None = None
    product: str | None = None
    referred_contact_id: str | None = None
    channel: str | None = None
    kind: str | None = None


_properties = msgspec.json.Decoder(_Properties)


def event_struct_row(e: EventRecord) -> tuple:
    if not e.id or not e.contact_id or not e.type:
        raise Unusual
    occurred_at = _iso_or_unusual(e.occurred_at)
    raw = bytes(e.properties)
    if raw == b"{}" or raw == b"null":
        return (e.id, e.contact_id, e.type, occurred_at, "{}")
    try:
        props = _properties.decode(raw)
    except msgspec.ValidationError:
        raise Unusual from None
    if (props.amount is not None and abs(props.amount) >= _MAX_AMOUNT) or (
        props.rating is not None and not -32768 <= props.rating <= 32767
    ):
        raise Unusual
    return (e.id, e.contact_id, e.type, occurred_at, raw.decode())


CONTACTS = Stream(
    name="contacts",
    path="/contacts",
    since_param="updated_since",
    replication_key="updated_at",
    columns=CONTACT_COLUMNS,
    to_row=contact_row,
    record_type=ContactRecord,
    struct_row=contact_struct_row,
)
EVENTS = Stream(
    name="events",
    path="/events",
    since_param="since",
    replication_key="occurred_at",
    columns=EVENT_COLUMNS,
    to_row=event_row,
    record_type=EventRecord,
    struct_row=event_struct_row,
)
STREAMS = {s.name: s for s in (CONTACTS, EVENTS)}
