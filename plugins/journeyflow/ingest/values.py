"""What one field may hold to be stored: size limits, characters, timestamps, JSON values.

The mappers of ``streams`` use these on both paths: the careful path asks for the ``problem`` and
names it; the typed fast path declares the same limits to msgspec (``text``) and only takes the
common case as it is, so that both paths accept and refuse exactly the same records.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any

import msgspec

# Characters per field (code points); see README, "The source contract".
LIMITS: dict[str, int] = {
    "id": 200, "contact_id": 200, "anonymous_id": 200, "email": 320,
    "salutation": 50, "title": 50, "first_name": 200, "last_name": 200, "company": 200,
    "street": 200, "house_number": 50, "postal_code": 50, "city": 200, "country": 50,
    "language": 50,
    "email_consent.status": 50, "email_consent.source": 200, "email_consent.ip": 100,
    "email_consent.text": 10_000,
    "type": 100, "properties.order_id": 200, "properties.currency": 50,
    "properties.product": 500, "properties.referred_contact_id": 200,
    "properties.channel": 100, "properties.kind": 100,
}  # fmt: skip
PROPERTIES_LIMIT = 65_536  # bytes of an event's properties as stored JSON
MAX_AMOUNT = 999_999_999_999.99  # what numeric(14, 2) holds
# PostgreSQL and Python both hold these instants in any session time zone
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
RANGE = "0001-01-02 to 9999-12-30 UTC"

SURROGATE = re.compile("[\ud800-\udfff]")  # a lone one: Python holds it, UTF-8 cannot
# offsets PostgreSQL reads (under 16 hours) in whole minutes (Python also reads seconds)
_PLAIN_ZONES = frozenset(timezone(timedelta(minutes=m)) for m in range(-959, 960))
_LEAP_SECOND = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d):60(?=$|[.,Z+-])")
_fromiso = datetime.fromisoformat


def text(field: str) -> Any:
    """The msgspec type of an optional text field with the field's limit (for the fast path)."""
    return Annotated[str, msgspec.Meta(max_length=LIMITS[field])] | None


def char_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store the string, or None."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    if not value.isascii() and SURROGATE.search(value):
        return "contains a lone surrogate or bytes that are not UTF-8"
    return None


def text_problem(value: str, field: str) -> str | None:
    """Why the string cannot be stored in ``field``, or None."""
    limit = LIMITS[field]
    if len(value) > limit:
        return f"longer than {limit:,} characters"
    return char_problem(value)


def plain_timestamp(value: Any) -> bool:
    """True for the common spelling that PostgreSQL reads exactly as Python does and that both
    hold in any time zone: ``YYYY-MM-DDTHH:MM[:SS[.f]]`` with ``Z`` or a whole-minute offset
    under 16 hours, in the years 2 to 9998. Anything else is spelled anew in UTC (``timestamp``).
    """
    try:
        if value[4] != "-" or value[7] != "-" or value[10] != "T" or "," in value:
            return False
        parsed = _fromiso(value)
    except (TypeError, IndexError, ValueError):
        return False
    zone = parsed.tzinfo
    return (zone is UTC or zone in _PLAIN_ZONES) and 1 < parsed.year < 9999


def timestamp(value: str) -> tuple[str | None, str | None]:
    """(the instant as ISO text PostgreSQL reads, None) or (None, what is wrong with it)."""
    if plain_timestamp(value):
        return value, None
    leap = _LEAP_SECOND.match(value)  # 23:59:60 is the second after :59, as PostgreSQL reads it
    try:
        parsed = _fromiso(f"{leap[1]}:59{value[leap.end() :]}" if leap else value)
        if leap:
            parsed += timedelta(seconds=1)
    except (ValueError, OverflowError):
        return None, "unparseable timestamp"
    if parsed.tzinfo is None:
        return None, "timestamp without a UTC offset"
    if not EARLIEST <= parsed < LATEST:
        return None, f"out of range ({RANGE})"
    return parsed.astimezone(UTC).isoformat(), None


def json_problem(value: Any) -> str | None:
    """Why a decoded JSON value cannot be stored as jsonb, or None: NUL, lone surrogates, numbers
    beyond what PostgreSQL's numeric holds (or NaN, Infinity). Iterative: any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            problem = char_problem(item)
        elif kind is dict:
            problem = next(filter(None, map(char_problem, item)), None)
            stack.extend(item.values())
        elif kind is list:
            problem = None
            stack.extend(item)
        elif (kind is float and not math.isfinite(item)) or (
            kind is Decimal and not -16383 <= item.adjusted() < 131072  # PostgreSQL's numeric
        ):
            problem = "holds a number out of range"
        else:
            problem = None
        if problem:
            return problem
    return None
