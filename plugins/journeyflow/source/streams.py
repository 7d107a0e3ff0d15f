"""The contract's two streams: contacts and events, each a declaration plus a row mapper.

A mapper turns one JSON record into a staging row or raises ``Malformed`` with a reason a person
can act on. Value rules (allowed consent states, rating 1..5, ...) belong to the quality gate;
here we only check what a row needs to be stored: ids, timestamps and types.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from journeyflow.source.base import Malformed, Stream

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


EVENT_COLUMNS = (
    "event_id", "contact_id", "type", "occurred_at", "properties", "order_id", "amount",
    "currency", "product", "rating", "referred_contact_id", "channel", "kind",
)  # fmt: skip
_EMPTY = {}


def event_row(rec: Any) -> tuple:
    if not isinstance(rec, dict):
        raise Malformed("record is not an object")
    rid = _id(rec)
    try:
        contact_id = _id(rec, "contact_id")
    except Malformed as exc:
        raise Malformed(exc.reason, rid) from None
    kind = rec.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed("type: missing or not a string", rid)
    occurred_at = _ts(rec, "occurred_at", rid)
    props = rec.get("properties")
    if props is None:
        props = _EMPTY
    elif not isinstance(props, dict):
        raise Malformed("properties: expected an object", rid)
    amount = props.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise Malformed("properties.amount: expected a number", rid)
        if abs(amount) >= _MAX_AMOUNT:
            raise Malformed("properties.amount: out of range", rid)
    rating = props.get("rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int)):
        raise Malformed("properties.rating: expected a whole number", rid)
    if rating is not None and not -32768 <= rating <= 32767:
        raise Malformed("properties.rating: out of range", rid)
    return (
        rid, contact_id, kind, occurred_at, orjson.dumps(props).decode(),
        _text(props, "order_id", rid), amount, _text(props, "currency", rid),
        _text(props, "product", rid), rating, _text(props, "referred_contact_id", rid),
        _text(props, "channel", rid), _text(props, "kind", rid),
    )  # fmt: skip


CONTACTS = Stream(
    name="contacts",
    path="/contacts",
    since_param="updated_since",
    replication_key="updated_at",
    columns=CONTACT_COLUMNS,
    to_row=contact_row,
)
EVENTS = Stream(
    name="events",
    path="/events",
    since_param="since",
    replication_key="occurred_at",
    columns=EVENT_COLUMNS,
    to_row=event_row,
)
STREAMS = {s.name: s for s in (CONTACTS, EVENTS)}
