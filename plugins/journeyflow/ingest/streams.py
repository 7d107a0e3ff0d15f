"""The contract's two streams: contacts and events, each a declaration plus a row mapper.

A mapper turns one JSON record into a staging row or raises ``Malformed`` with a reason a person
can act on. Value rules (allowed consent states, rating 1..5, ...) belong to the quality gate;
here we only check what a row needs to be stored: ids, timestamps, types and sizes (``values``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from journeyflow.ingest import values
from journeyflow.ingest.client import Malformed, Stream, Unusual
from journeyflow.ingest.values import LIMITS, text, text_problem


def _id(rec: dict, key: str = "id") -> str:
    value = rec.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 700:  # more digits than any id may have
            raise Malformed(f"{key}: longer than {LIMITS[key]} characters")
        value = str(value)
    elif value is None or value == "":
        raise Malformed(f"missing {key}")
    elif not isinstance(value, str):
        raise Malformed(f"{key}: not a string")
    elif not value.strip():
        raise Malformed(f"{key}: blank")
    problem = text_problem(value, key)
    if problem:
        raise Malformed(f"{key}: {problem}")
    return value


def _ts(
    rec: dict, key: str, rid: str, required: bool = True, field: str | None = None
) -> str | None:
    value = rec.get(key)
    if type(value) is str:
        iso, problem = values.timestamp(value)
        if problem is None:
            return iso
        raise Malformed(f"{field or key}: {problem}", rid)
    if value is None and not required:
        return None
    reason = "missing timestamp" if value is None else "not a string"
    raise Malformed(f"{field or key}: {reason}", rid)


def _iso_or_unusual(value: str | None, required: bool = True) -> str | None:
    """Fast path: the value if it is a plain ISO timestamp with offset, else Unusual."""
    if value is None and not required:
        return None
    if values.plain_timestamp(value):
        return value
    raise Unusual


def _text(rec: dict, key: str, rid: str, field: str | None = None) -> str | None:
    value = rec.get(key)
    if value is None:
        return None
    field = field or key
    if type(value) is not str:
        got = "number" if isinstance(value, Decimal) else type(value).__name__
        raise Malformed(f"{field}: expected a string, got {got}", rid)
    problem = text_problem(value, field)
    if problem:
        raise Malformed(f"{field}: {problem}", rid)
    return value


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
    code = rec.get("postal_code")
    if isinstance(code, int) and not isinstance(code, bool):  # a frequent export mistake
        raise Malformed("postal_code: expected a string (a number loses leading zeros)", rid)
    texts = [_text(rec, key, rid) for key in _CONTACT_TEXT]
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
    status = _text(consent, "status", rid, "email_consent.status") or "none"
    confirmed_at = _ts(consent, "confirmed_at", rid, False, "email_consent.confirmed_at")
    source, ip, wording = (
        _text(consent, key, rid, f"email_consent.{key}") for key in ("source", "ip", "text")
    )
    opt_out = rec.get("postal_opt_out")
    if opt_out is None:
        opt_out = False
    elif not isinstance(opt_out, bool):
        raise Malformed("postal_opt_out: expected true or false", rid)
    updated_at = _ts(rec, "updated_at", rid)
    created_at = _ts(rec, "created_at", rid, required=False) or updated_at
    return (
        rid, *texts, birthday, status, confirmed_at, source, ip, wording, opt_out, created_at,
        updated_at,
    )  # fmt: skip


# The typed records of the fast path declare the same size limits as the careful path checks.
Id = Annotated[str, msgspec.Meta(max_length=LIMITS["id"])]
ConsentRecord = msgspec.defstruct(
    "ConsentRecord",
    [(key, text(f"email_consent.{key}"), None) for key in ("status", "source", "ip", "text")]
    + [("confirmed_at", str | None, None)],
)
ContactRecord = msgspec.defstruct(
    "ContactRecord",
    [("id", Id), ("updated_at", str)]
    + [(key, text(key), None) for key in _CONTACT_TEXT]
    + [
        ("birthday", str | None, None),
        ("email_consent", ConsentRecord | None, None),
        ("postal_opt_out", bool | None, None),
        ("created_at", str | None, None),
    ],
)
_NO_CONSENT = ConsentRecord()


def contact_struct_row(c: Any) -> tuple:
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


IDENTIFY = "identify"  # links an anonymous visitor to a contact
ERASURE_REQUEST = "erasure_request"  # the person asked to be forgotten (GDPR Art. 17)
EVENT_COLUMNS = ("event_id", "contact_id", "anonymous_id", "type", "occurred_at", "properties")
# properties the rulebook reads, with the JSON type each must have; staging types them in SQL
_STRING_PROPS = ("order_id", "currency", "product", "referred_contact_id", "channel", "kind")
# unlike orjson, it writes integers of any size, and the lenient reader's Decimals as numbers
_encode = msgspec.json.Encoder(decimal_format="number").encode


def event_row(rec: Any) -> tuple:
    if type(rec) is not dict:
        raise Malformed("record is not an object")
    rid = _id(rec)
    kind = rec.get("type")
    if type(kind) is not str or not kind:
        raise Malformed("type: missing or not a string", rid)
    problem = text_problem(kind, "type")
    if problem:
        raise Malformed(f"type: {problem}", rid)
    contact_id, anonymous_id = _who(rec, rid, kind)
    occurred_at = _ts(rec, "occurred_at", rid)
    props = rec.get("properties")
    if not props:
        if props is None or type(props) is dict:
            return (rid, contact_id, anonymous_id, kind, occurred_at, "{}")
        raise Malformed("properties: expected an object", rid)
    if type(props) is not dict:
        raise Malformed("properties: expected an object", rid)
    amount = props.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
            raise Malformed("properties.amount: expected a number", rid)
        if not abs(amount) <= values.MAX_AMOUNT:  # also NaN and the infinities
            reason = f"properties.amount: out of range (at most {values.MAX_AMOUNT:,})"
            raise Malformed(reason, rid)
    rating = props.get("rating")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, int | Decimal):
            raise Malformed("properties.rating: expected a whole number", rid)
        if isinstance(rating, Decimal) or not -32768 <= rating <= 32767:
            raise Malformed("properties.rating: out of range", rid)
    for key in _STRING_PROPS:
        if key in props:
            _text(props, key, rid, f"properties.{key}")
    problem = values.json_problem(props)
    if problem:
        raise Malformed(f"properties: {problem}", rid)
    stored = _encode(props)
    if len(stored) > values.PROPERTIES_LIMIT:
        reason = f"properties: longer than {values.PROPERTIES_LIMIT:,} bytes as JSON"
        raise Malformed(reason, rid)
    return (rid, contact_id, anonymous_id, kind, occurred_at, stored.decode())


def _who(rec: dict, rid: str, kind: str) -> tuple[str | None, str | None]:
    """(contact_id, anonymous_id) of an event: at least one; ``identify`` needs both, an
    ``erasure_request`` its contact."""
    keys = ("contact_id", "anonymous_id")
    if rec.get("contact_id") is not None and kind != IDENTIFY:
        keys = ("contact_id",)  # a contact's own event: an anonymous_id beside it is ignored
    ids = []
    for key in keys:
        if rec.get(key) is None:
            ids.append(None)
            continue
        try:
            ids.append(_id(rec, key))
        except Malformed as exc:
            raise Malformed(exc.reason, rid) from None
    contact_id, anonymous_id = (*ids, None) if len(ids) == 1 else ids
    if kind == IDENTIFY and (contact_id is None or anonymous_id is None):
        raise Malformed("identify: needs both contact_id and anonymous_id", rid)
    if kind == ERASURE_REQUEST and contact_id is None:
        raise Malformed("erasure_request: missing contact_id", rid)
    if contact_id is None and anonymous_id is None:
        raise Malformed("missing contact_id (or anonymous_id for an anonymous visitor)", rid)
    return contact_id, anonymous_id


class EventRecord(msgspec.Struct):
    id: Id
    type: Annotated[str, msgspec.Meta(max_length=LIMITS["type"])]
    occurred_at: str
    contact_id: Annotated[str, msgspec.Meta(max_length=LIMITS["contact_id"])] | None = None
    anonymous_id: Annotated[str, msgspec.Meta(max_length=LIMITS["anonymous_id"])] | None = None
    properties: msgspec.Raw = msgspec.Raw(b"null")


_Properties = msgspec.defstruct(
    "_Properties",
    [("amount", float | None, None), ("rating", int | None, None)]
    + [(key, text(f"properties.{key}"), None) for key in _STRING_PROPS],
)
_properties = msgspec.json.Decoder(_Properties)
# The fast path takes the properties as sent only when they are far below the limit: the
# careful path measures them as it writes them, which can be longer (1e5 is 100000.0).
_FAST_PROPERTIES = values.PROPERTIES_LIMIT // 8


def event_struct_row(e: EventRecord) -> tuple:
    contact_id, anonymous_id = e.contact_id, e.anonymous_id
    if contact_id is not None:
        if not contact_id.strip():
            raise Unusual
        if e.type != IDENTIFY:
            anonymous_id = None
        elif anonymous_id is None:
            raise Unusual
    elif anonymous_id is None or e.type == IDENTIFY or e.type == ERASURE_REQUEST:
        raise Unusual
    if not e.id.strip() or not e.type or (anonymous_id is not None and not anonymous_id.strip()):
        raise Unusual
    occurred_at = _iso_or_unusual(e.occurred_at)
    raw = bytes(e.properties)
    if raw == b"{}" or raw == b"null":
        return (e.id, contact_id, anonymous_id, e.type, occurred_at, "{}")
    if len(raw) > _FAST_PROPERTIES:
        raise Unusual
    try:
        props = _properties.decode(raw)
    except (msgspec.MsgspecError, RecursionError):
        raise Unusual from None
    if (props.amount is not None and not abs(props.amount) <= values.MAX_AMOUNT) or (
        props.rating is not None and not -32768 <= props.rating <= 32767
    ):
        raise Unusual
    return (e.id, contact_id, anonymous_id, e.type, occurred_at, raw.decode())


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
