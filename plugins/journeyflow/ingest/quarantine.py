"""Quarantine: malformed records kept with the reason, whatever they hold.

The stored copy is always JSON that PostgreSQL's jsonb takes: NUL characters and lone
surrogates are spelled out as text (``\\u0000``, ``\\ud800``), numbers that are not finite as
text (``inf``). A record of more than 64 KiB keeps its shape with strings cut to 1,000
characters and lists and objects to 200 entries; its id and the reason are always kept, and the
hash that keeps a record once is taken over all of it.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import date
from typing import Any

import msgspec
import orjson
from sqlalchemy.engine import Connection

from journeyflow.ingest.pages import Unparseable
from journeyflow.ingest.values import SURROGATE
from journeyflow.sqlfile import statement

RAW_LIMIT = 65_536  # bytes of JSON kept per record
CUT_TEXT = 1_000
CUT_ITEMS = 200
MAX_DEPTH = 100


def quarantine(conn: Connection, stream: str, run_date: date, bad: list[tuple]) -> None:
    """Keep malformed records ``(record_id, reason, record)``; the same one twice is kept once."""
    params = []
    for record_id, reason, rec in bad:
        record_id = None if record_id is None else _text(str(record_id), cut=False)[:200]
        raw, digest = storable(rec, record_id)
        params.append({
            "s": stream, "id": record_id, "reason": _text(reason, cut=True), "raw": raw,
            "h": digest, "d": run_date,
        })  # fmt: skip
    conn.execute(statement("ingest/quarantine"), params)


def storable(rec: Any, record_id: str | None = None) -> tuple[str, str]:
    """(the record as JSON that jsonb takes, cut if large; a hash of the whole record)."""
    whole = _encode(_clean(rec, cut=False))
    digest = hashlib.sha256(whole).hexdigest()
    if len(whole) <= RAW_LIMIT:
        return whole.decode(), digest
    kept = _encode(_clean(rec, cut=True))
    if len(kept) > RAW_LIMIT:  # too many fields even when cut: the id and the size only
        kept = _encode({"id": record_id, "cut": f"a record of {len(whole):,} bytes"})
    return kept.decode(), digest


def db_reason(exc: BaseException) -> str:
    """Why the database refused a row, naming the column but never the value."""
    diag = getattr(exc, "diag", None)
    message = getattr(diag, "message_primary", None) or type(exc).__name__
    message = message.splitlines()[0].split(': "', 1)[0]  # PostgreSQL quotes the value after
    column = re.search(r"column (\w+)", getattr(diag, "context", None) or "")
    return f"{column[1] + ': ' if column else ''}rejected by the database ({message})"


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits
        return msgspec.json.encode(value)


def _text(value: str, cut: bool) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\\u0000")
    if not value.isascii() and SURROGATE.search(value):
        value = SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", value)
    if cut and len(value) > CUT_TEXT:
        value = f"{value[:CUT_TEXT]}… [{len(value):,} characters, cut]"
    return value


def _clean(value: Any, cut: bool, depth: int = 0) -> Any:
    kind = type(value)
    if kind is str:
        return _text(value, cut)
    if kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            return f"[nested deeper than {MAX_DEPTH} levels, cut]"
        items = list(value.items()) if kind is dict else value
        kept = items[:CUT_ITEMS] if cut else items
        more = f"[{len(items):,} entries, cut]" if len(kept) < len(items) else None
        if kind is list:
            return [_clean(v, cut, depth + 1) for v in kept] + ([more] if more else [])
        out = {_text(k, cut): _clean(v, cut, depth + 1) for k, v in kept}
        return {**out, "…": more} if more else out
    if kind is float and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Unparseable):
        return {"unparsed": _text(value.text, cut)}
    return value
