"""Reading a response body into a page of records, whatever a single record holds.

The contract's pages are split in C by msgspec, each record left undecoded for the typed fast
path. When that fails because of one record (a lone surrogate, a number out of range, nesting
deeper than any decoder goes), the page is read again leniently, so that the record can be
quarantined instead of the whole page failing as "invalid JSON".
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

NUL_ESCAPE = b"\\u0000"  # the only way a NUL character can be spelled in JSON


class BadJSON(ValueError):
    """The body is not JSON at all (a retry may help: it might have been cut off)."""


@dataclass(frozen=True)
class Unparseable:
    """A record of a page that no decoder can read; it goes to quarantine as text."""

    text: str
    reason: str


class _ContractPage(msgspec.Struct):
    data: list[msgspec.Raw]
    next_cursor: str | None = None


_contract_page = msgspec.json.Decoder(_ContractPage)


@dataclass
class Page:
    """One response: its records (undecoded, on the contract's fast path) and the next cursor."""

    cursor: str | None
    raws: list | None = None
    decoded: list | None = None  # the records as JSON values (a careful reading)
    has_nul: bool = False  # some record spells a NUL character: those take the careful path

    @property
    def records(self) -> list:
        """The page's records as JSON values (``Unparseable`` for a record nothing can read)."""
        if self.decoded is None:
            self.decoded = [decode_record(raw) for raw in self.raws]
        return self.decoded

    def fingerprint(self) -> bytes | None:
        """A digest of the page's records (not its cursor); None for an empty page."""
        if not len(self):
            return None
        if self.raws is not None:  # one update: hashlib hashes it without holding the GIL
            return hashlib.sha256(b"\n".join(self.raws)).digest()
        return hashlib.sha256(repr(self.decoded).encode("utf-8", "surrogatepass")).digest()

    def __len__(self) -> int:
        return len(self.raws if self.raws is not None else self.decoded)


def contract_page(body: bytes) -> Page | None:
    """The fast split of a contract page, or None when the body needs a careful reading."""
    try:
        page = _contract_page.decode(body)
    except (msgspec.MsgspecError, ValueError, RecursionError):  # ValueError: not UTF-8
        return None
    # most bodies hold no backslash at all: that search runs at memory speed
    has_nul = b"\\" in body and NUL_ESCAPE in body
    return Page(page.next_cursor or None, raws=page.data, has_nul=has_nul)


def _int(digits: str) -> int | Decimal:
    # Python reads no integer of more than 4,300 digits (a Decimal holds it as sent)
    return int(digits) if len(digits) <= 4000 else Decimal(digits)


def _float(literal: str) -> float | Decimal:
    value = float(literal)
    return value if math.isfinite(value) else Decimal(literal)  # beyond a double: as sent


def lenient_loads(body: bytes | str) -> Any:
    """Decode JSON that strict decoders refuse: lone surrogates (also bytes that are not UTF-8)
    stay lone surrogates in the strings, numbers beyond a double become ``Decimal``. Raises
    ``BadJSON`` for what is not JSON, ``RecursionError`` for nesting deeper than ~1000."""
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else body
    try:
        return json.loads(text, parse_int=_int, parse_float=_float)
    except ValueError as exc:
        raise BadJSON(str(exc)) from None


def decode_record(raw: Any) -> Any:
    """One undecoded record as a JSON value, or ``Unparseable`` with the reason."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.MsgspecError, ValueError, RecursionError):  # ValueError: not UTF-8
        pass
    text = bytes(raw).decode("utf-8", "surrogateescape")
    try:
        return lenient_loads(text)
    except RecursionError:
        return Unparseable(text, "record: nested too deeply to read")
    except BadJSON:
        return Unparseable(text, "record: not readable as JSON")


def careful_page(body: bytes) -> Any:
    """The whole document, read leniently; a ``data`` list nested too deeply for any decoder is
    split record by record, and the records that cannot be read become ``Unparseable``."""
    try:
        return lenient_loads(body)
    except RecursionError:
        pass
    split = _split_data(body)
    if split is None:
        raise BadJSON("nested too deeply to read")
    items, rest = split
    try:
        doc = lenient_loads(rest)
    except RecursionError:
        raise BadJSON("nested too deeply to read") from None
    if isinstance(doc, dict):
        doc["data"] = [decode_record(item) for item in items]
    return doc


_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


def _split_data(body: bytes) -> tuple[list[bytes], bytes] | None:
    """The undecoded elements of the top-level ``"data"`` array and the document without them."""
    depth, last_key, in_data = 0, None, False
    array_at = element_at = 0
    items: list[bytes] = []
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token[:1] == b'"':
            if depth == 1:
                last_key = token
        elif token in (b"[", b"{"):
            if depth == 1 and token == b"[" and last_key == b'"data"':
                in_data, array_at, element_at = True, match.start(), match.end()
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
            if in_data and depth == 1:
                last = body[element_at : match.start()].strip()
                if last:
                    items.append(last)
                return items, body[:array_at] + b"[]" + body[match.end() :]
        elif in_data and depth == 2:  # a comma between two records
            items.append(body[element_at : match.start()].strip())
            element_at = match.end()
    return None
