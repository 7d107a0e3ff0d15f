"""``postal:`` of ``journeyflow.yaml``: vendor profiles (how a print vendor wants the file).

The section picks the profile a drop uses and may define more::

    postal:
      profile: default              # which profile the drop uses
      min_pieces: 200               # fewer pieces -> a warning; the file is still written
      action_codes: {win_back: WB}  # value of the "action" field per campaign (default: its name)
      profiles:
        latin1_vendor:
          delimiter: ";"
          encoding: iso-8859-1      # utf-8 | iso-8859-1 | windows-1252 (aliases latin-1, cp1252)
          line_terminator: "\\r\\n"
          min_pieces: 500
          columns: [[Kundennummer, contact_id], [Nachname, last_name], [PLZ, postal_code]]
"""

from __future__ import annotations

import codecs
from typing import Any

from journeyflow.config.model import (
    DEFAULT_COLUMNS,
    DEFAULT_MIN_PIECES,
    DEFAULT_PROFILE,
    PostalConfig,
    VendorProfile,
)
from journeyflow.config.validate import Section, fail, listing, mapping, suggestion, text

#: Fields a column may take its value from: the contact's address fields and the action code.
FIELDS = (
    "contact_id", "salutation", "title", "first_name", "last_name", "company", "street",
    "house_number", "postal_code", "city", "country", "action",
)  # fmt: skip

#: Canonical names of the allowed encodings, keyed by Python's codec name.
ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "iso-8859-1", "cp1252": "windows-1252"}

POSTAL_KEYS = ("profile", "min_pieces", "action_codes", "profiles")
PROFILE_KEYS = ("delimiter", "encoding", "columns", "line_terminator", "min_pieces")


def canonical_encoding(name: Any, where: str = "postal encoding") -> str:
    """``utf-8``, ``iso-8859-1`` or ``windows-1252`` for a name or alias; else ConfigError."""
    allowed = "utf-8, iso-8859-1 (latin-1) or windows-1252 (cp1252)"
    try:
        codec = codecs.lookup(str(name)).name
    except LookupError:
        codec = None
    if codec not in ENCODINGS or not isinstance(name, str):
        fail(f"{where} is {name!r}; use {allowed}")
    return ENCODINGS[codec]


def _columns(section: Section) -> list[tuple[str, str]]:
    where = section.where("columns")
    example = "[[Kundennummer, contact_id], [PLZ, postal_code]]"
    if "columns" not in section:
        return list(DEFAULT_COLUMNS)
    value = section.get("columns")
    if not isinstance(value, list) or not value:
        fail(f"{where} must be a non-empty list of [header, field] pairs, e.g. {example}")
    parsed: list[tuple[str, str]] = []
    for i, column in enumerate(listing(value, where, example, min_len=1)):
        if (
            not isinstance(column, list | tuple)
            or len(column) != 2
            or not all(isinstance(part, str) and part.strip() for part in column)
        ):
            fail(f"{where}[{i}] must be a [header, field] pair of strings, got {column!r}")
        header, source = column
        if source not in FIELDS:
            guess = suggestion(source, FIELDS)
            hint = f"did you mean '{guess}'? " if guess else ""
            fail(f"{where}[{i}] uses unknown field {source!r}; {hint}known fields: "
                 f"{', '.join(FIELDS)}")  # fmt: skip
        parsed.append((header, source))
    headers = [h for h, _ in parsed]
    if len(set(headers)) != len(headers):
        fail(f"{where} repeats a header: {headers}")
    return parsed


def _profile(name: str, spec: Any, min_pieces: int) -> VendorProfile:
    section = Section(spec, f"postal.profiles.{name}", PROFILE_KEYS,
                      "delimiter, encoding, columns, line_terminator and min_pieces")  # fmt: skip
    delimiter = section.get("delimiter", ";")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"'\r\n":
        fail(
            f"{section.where('delimiter')} must be one character other than a quote "
            f'or newline (e.g. ";", "," or "\\t"), got {delimiter!r}'
        )
    encoding = canonical_encoding(section.get("encoding", "utf-8"), section.where("encoding"))
    terminator = section.get("line_terminator", "\r\n")
    if terminator not in ("\r\n", "\n"):
        fail(f'{section.where("line_terminator")} must be "\\r\\n" or "\\n", got {terminator!r}')
    columns = _columns(section)
    for header, _ in columns:
        try:
            header.encode(encoding)
        except UnicodeEncodeError:
            fail(f"{section.where('columns')} header {header!r} cannot be written in {encoding}")
    return VendorProfile(
        name=name,
        delimiter=delimiter,
        encoding=encoding,
        columns=columns,
        line_terminator=terminator,
        min_pieces=section.whole("min_pieces", min_pieces, at_least=0),
    )


def read_postal(value: Any) -> PostalConfig:
    """The ``postal`` section's value: every profile, the active one and the action codes."""
    section = Section(value, "postal", POSTAL_KEYS)
    min_pieces = section.whole("min_pieces", DEFAULT_MIN_PIECES, at_least=0)
    profiles = {DEFAULT_PROFILE: VendorProfile(name=DEFAULT_PROFILE, min_pieces=min_pieces)}
    configured = section.mapping("profiles", "profile names to their settings", {})
    for name, spec in configured.items():
        profiles[name] = _profile(name, spec, min_pieces)
    name = section.get("profile", DEFAULT_PROFILE)
    if not isinstance(name, str) or name not in profiles:
        guess = suggestion(name, profiles) if isinstance(name, str) else None
        hint = f"did you mean '{guess}'? " if guess else ""
        fail(
            f"postal.profile is {name!r}, which is not a profile; {hint}define it under "
            f"postal.profiles or use one of: {', '.join(sorted(profiles))}"
        )
    where = section.where("action_codes")
    codes = section.mapping("action_codes", "campaign names to codes, e.g. {win_back: WB2026}", {})
    return PostalConfig(
        profile=profiles[name],
        profiles=profiles,
        action_codes={k: text(v, f"{where}.{k}", "WB2026") for k, v in codes.items()},
    )


def parse_postal(raw: dict[str, Any]) -> PostalConfig:
    """The ``postal`` section of a whole config mapping (defaults when it has none)."""
    return read_postal(mapping(raw, "the top level", "sections").get("postal", {}))


def profiles_from_config(raw: dict[str, Any]) -> dict[str, VendorProfile]:
    """All vendor profiles: the built-in ``default`` plus those under ``postal.profiles``."""
    return parse_postal(raw).profiles
