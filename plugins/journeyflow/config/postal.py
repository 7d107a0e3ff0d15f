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
    ConfigError,
    PostalConfig,
    VendorProfile,
)
from journeyflow.config.paths import config_path

#: Fields a column may take its value from: the contact's address fields and the action code.
FIELDS = (
    "contact_id", "salutation", "title", "first_name", "last_name", "company", "street",
    "house_number", "postal_code", "city", "country", "action",
)  # fmt: skip

#: Canonical names of the allowed encodings, keyed by Python's codec name.
ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "iso-8859-1", "cp1252": "windows-1252"}

_POSTAL_KEYS = {"profile", "min_pieces", "profiles", "action_codes"}
_PROFILE_KEYS = {"delimiter", "encoding", "columns", "line_terminator", "min_pieces"}


def canonical_encoding(name: Any, where: str = "postal encoding") -> str:
    """``utf-8``, ``iso-8859-1`` or ``windows-1252`` for a name or alias; else ConfigError."""
    allowed = "utf-8, iso-8859-1 (latin-1) or windows-1252 (cp1252)"
    try:
        codec = codecs.lookup(str(name)).name
    except LookupError:
        codec = None
    if codec not in ENCODINGS:
        raise ConfigError(f"{config_path()}: {where} is {name!r}; use {allowed}")
    return ENCODINGS[codec]


def _min_pieces(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"{config_path()}: {where} must be a whole number of pieces (0 or more), got {value!r}"
        )
    return value


def _profile(name: str, spec: Any, min_pieces: int) -> VendorProfile:
    where = f"postal.profiles.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{config_path()}: {where} must be a mapping with delimiter, encoding and columns"
        )
    unknown = set(spec) - _PROFILE_KEYS
    if unknown:
        raise ConfigError(
            f"{config_path()}: unknown keys in {where}: {sorted(unknown)}; "
            f"known: {', '.join(sorted(_PROFILE_KEYS))}"
        )
    delimiter = spec.get("delimiter", ";")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"'\r\n":
        raise ConfigError(
            f"{config_path()}: {where}.delimiter must be one character other than a quote "
            f'or newline (e.g. ";", "," or "\\t"), got {delimiter!r}'
        )
    encoding = canonical_encoding(spec.get("encoding", "utf-8"), f"{where}.encoding")
    terminator = spec.get("line_terminator", "\r\n")
    if terminator not in ("\r\n", "\n"):
        raise ConfigError(
            f'{config_path()}: {where}.line_terminator must be "\\r\\n" or "\\n", '
            f"got {terminator!r}"
        )
    columns = spec.get("columns", [list(c) for c in DEFAULT_COLUMNS])
    if not isinstance(columns, list) or not columns:
        raise ConfigError(
            f"{config_path()}: {where}.columns must be a non-empty list of [header, field] "
            f"pairs, e.g. [[Kundennummer, contact_id], [PLZ, postal_code]]"
        )
    parsed: list[tuple[str, str]] = []
    for i, column in enumerate(columns):
        if (
            not isinstance(column, list | tuple)
            or len(column) != 2
            or not all(isinstance(part, str) and part for part in column)
        ):
            raise ConfigError(
                f"{config_path()}: {where}.columns[{i}] must be a [header, field] pair of "
                f"strings, got {column!r}"
            )
        header, source = column
        if source not in FIELDS:
            raise ConfigError(
                f"{config_path()}: {where}.columns[{i}] uses unknown field {source!r}; "
                f"known fields: {', '.join(FIELDS)}"
            )
        parsed.append((header, source))
    headers = [h for h, _ in parsed]
    if len(set(headers)) != len(headers):
        raise ConfigError(f"{config_path()}: {where}.columns repeats a header: {headers}")
    for header in headers:
        try:
            header.encode(encoding)
        except UnicodeEncodeError:
            raise ConfigError(
                f"{config_path()}: {where}.columns header {header!r} cannot be written in "
                f"{encoding}"
            ) from None
    pieces = spec.get("min_pieces", min_pieces)
    return VendorProfile(
        name=name,
        delimiter=delimiter,
        encoding=encoding,
        columns=parsed,
        line_terminator=terminator,
        min_pieces=_min_pieces(pieces, f"{where}.min_pieces"),
    )


def _postal_section(raw: dict[str, Any]) -> dict[str, Any]:
    section = raw.get("postal") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{config_path()}: postal must be a mapping (profile, profiles, ...)")
    unknown = set(section) - _POSTAL_KEYS
    if unknown:
        raise ConfigError(
            f"{config_path()}: unknown keys in postal: {sorted(unknown)}; "
            f"known: {', '.join(sorted(_POSTAL_KEYS))}"
        )
    return section


def profiles_from_config(raw: dict[str, Any]) -> dict[str, VendorProfile]:
    """All vendor profiles: the built-in ``default`` plus those under ``postal.profiles``."""
    section = _postal_section(raw)
    min_pieces = _min_pieces(section.get("min_pieces", DEFAULT_MIN_PIECES), "postal.min_pieces")
    profiles = {DEFAULT_PROFILE: VendorProfile(name=DEFAULT_PROFILE, min_pieces=min_pieces)}
    configured = section.get("profiles") or {}
    if not isinstance(configured, dict):
        raise ConfigError(
            f"{config_path()}: postal.profiles must be a mapping of profile name to settings"
        )
    for name, spec in configured.items():
        profiles[str(name)] = _profile(str(name), spec, min_pieces)
    return profiles


def parse_postal(raw: dict[str, Any]) -> PostalConfig:
    """The ``postal`` section: every profile, the active one and the action codes."""
    profiles = profiles_from_config(raw)
    section = _postal_section(raw)
    name = section.get("profile", DEFAULT_PROFILE)
    if name not in profiles:
        raise ConfigError(
            f"{config_path()}: postal.profile is {name!r}, which is not a profile; "
            f"define it under postal.profiles or use one of: {', '.join(sorted(profiles))}"
        )
    codes = section.get("action_codes") or {}
    if not isinstance(codes, dict):
        raise ConfigError(
            f"{config_path()}: postal.action_codes must map campaign names to codes, "
            f"e.g. {{win_back: WB2026}}"
        )
    return PostalConfig(
        profile=profiles[name],
        profiles=profiles,
        action_codes={str(k): str(v) for k, v in codes.items()},
    )
