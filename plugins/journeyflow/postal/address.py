"""Address quality for the mailing file: pure functions over row dicts.

A row is a mapping with ``contact_id`` and the address fields. ``check_addresses`` cleans every
field to a single printable line (DIN 5008 style), rejects what a print vendor cannot mail, and
keeps one piece per household. Reasons name fields and contact ids, never names or addresses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

ADDRESS_FIELDS = (
    "salutation", "title", "first_name", "last_name", "company", "street", "house_number",
    "postal_code", "city", "country",
)  # fmt: skip
REQUIRED = ("street", "house_number", "postal_code", "city", "country")
MAX_LENGTH = 80

#: Postal code formats of the countries we mail to.
POSTAL_CODES = {
    "DE": (re.compile(r"[0-9]{5}"), "5 digits"),
    "AT": (re.compile(r"[0-9]{4}"), "4 digits"),
    "CH": (re.compile(r"[0-9]{4}"), "4 digits"),
}

Reject = tuple[str, str]  # (contact_id, reason)


def clean(value: Any) -> str:
    """One printable line: NFC, control and format characters removed, whitespace collapsed."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return " ".join(text.split())


def clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` with every address field cleaned and the country upper-cased."""
    out = dict(row)
    out["contact_id"] = str(row["contact_id"])
    for name in ADDRESS_FIELDS:
        out[name] = clean(row.get(name))
    out["country"] = out["country"].upper()
    return out


def problems(
    row: Mapping[str, Any], encoding: str | None = None, fields: Iterable[str] | None = None
) -> list[str]:
    """Why a cleaned row cannot be mailed (empty when it can). With ``encoding``, the values
    of ``fields`` (default: the contact id and every address field) must be writable in it."""
    found = []
    if not (row.get("last_name") or row.get("company")):
        found.append("missing last_name or company")
    found += [f"missing {name}" for name in REQUIRED if not row.get(name)]
    found += [
        f"{name} longer than {MAX_LENGTH} characters"
        for name in ADDRESS_FIELDS
        if len(row.get(name) or "") > MAX_LENGTH
    ]
    country = row.get("country")
    if country and country not in POSTAL_CODES:
        shown = f": {country}" if re.fullmatch(r"[A-Z]{2}", country) else ""  # ASCII only
        found.append(f"country not supported{shown}")
    elif country and row.get("postal_code"):
        pattern, shape = POSTAL_CODES[country]
        if not pattern.fullmatch(row["postal_code"]):
            found.append(f"postal_code not valid for {country} ({shape})")
    if encoding and not found:
        bad = [
            name
            for name in (fields or ("contact_id", *ADDRESS_FIELDS))
            if not _encodable(str(row.get(name) or ""), encoding)
        ]
        if bad:
            found.append(f"cannot be encoded in {encoding}: {', '.join(bad)}")
    return found


def _encodable(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _street_key(street: str) -> str:
    key = re.sub(r"[\W_]+", "", street.casefold())  # casefold: ß -> ss
    return re.sub(r"(strasse|str)$", "str", key)


def household_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """Same street, house number, postal code (and country) and last name: one household."""
    name = row.get("last_name") or ""
    who = f"n:{name.casefold()}" if name else f"c:{(row.get('company') or '').casefold()}"
    return (
        _street_key(row.get("street") or ""),
        re.sub(r"\s+", "", (row.get("house_number") or "").casefold()),
        row.get("postal_code") or "",
        row.get("country") or "",
        who,
    )


def check_addresses(
    rows: Iterable[Mapping[str, Any]],
    encoding: str | None = None,
    fields: Iterable[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Cleaned rows a vendor can mail, and ``(contact_id, reason)`` for the others.

    With ``encoding`` given, rows whose values (of ``fields``, the columns the file has) cannot
    be written in it are rejected too.
    Per household the lowest contact id (compared byte-wise, like the warehouse) is kept; the
    others are rejected as ``household: same as <id>``. A repeated contact id counts once.
    """
    fields = tuple(fields) if fields is not None else None
    seen: set[str] = set()
    valid: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for raw in rows:
        row = clean_row(raw)
        if row["contact_id"] in seen:
            continue
        seen.add(row["contact_id"])
        found = problems(row, encoding, fields)
        if found:
            rejects.append((row["contact_id"], "; ".join(found)))
        else:
            valid.append(row)
    households: dict[tuple[str, ...], str] = {}
    accepted: list[dict[str, Any]] = []
    for row in sorted(valid, key=lambda r: r["contact_id"]):
        key = household_key(row)
        if key in households:
            rejects.append((row["contact_id"], f"household: same as {households[key]}"))
        else:
            households[key] = row["contact_id"]
            accepted.append(row)
    rejects.sort()
    return accepted, rejects
