"""A person's lines out of a mailing file set (CSV, rejects, manifest, ``.done`` marker).

The set stays consistent: the manifest's row counts and checksums and the marker's checksums
describe the files as they are after the lines went. Every other line keeps its bytes, except
that a household reject naming the person (``household: same as <id>``) names the pseudonym.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from journeyflow.postal.address import clean
from journeyflow.postal.mailfile import canonical_json, csv_lines, safe_cell, sha256

Match = Callable[[list[str]], bool]


@dataclass(frozen=True)
class Person:
    """Who goes: the contact id, their pseudonym, and their values as stored."""

    contact_id: str
    pseudonym: str
    values: dict[str, Any]


def line_of(person: Person, fields: Sequence[str]) -> Match:
    """Whether a mailing record (cells in the order of the profile's ``fields``) is the
    person's: by the contact id where the file has that column, else by every address field
    the file has (name, street, house number, postal code, city ... all equal)."""
    if "contact_id" in fields:
        at = fields.index("contact_id")
        mine = safe_cell(person.contact_id)
        return lambda cells: len(cells) > at and cells[at] == mine
    wanted = {
        i: safe_cell(clean(person.values.get(name)))
        for i, name in enumerate(fields)
        if name != "action" and person.values.get(name)
    }
    if not {"last_name", "street"} & {fields[i] for i in wanted}:
        return lambda cells: False  # the file cannot tell them apart from a namesake
    return lambda cells: len(cells) == len(fields) and all(cells[i] == v for i, v in wanted.items())


def _records(data: bytes, manifest: dict[str, Any]) -> list[list[str]]:
    text = data.decode(manifest.get("encoding", "utf-8"))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=manifest.get("delimiter", ";")))


def _render(records: list[list[str]], manifest: dict[str, Any]) -> bytes:
    shape = SimpleNamespace(
        delimiter=manifest.get("delimiter", ";"),
        line_terminator=manifest.get("line_terminator", "\r\n"),
    )
    encoding = manifest.get("encoding", "utf-8")
    return b"".join(line.encode(encoding) for line in csv_lines(records, shape))


def without(data: bytes, manifest: dict[str, Any], match: Match) -> tuple[bytes, int]:
    """The CSV ``data`` (header first) without the records ``match`` names; (bytes, removed)."""
    records = _records(data, manifest)
    kept = records[:1] + [r for r in records[1:] if not match(r)]
    removed = len(records) - len(kept)
    return (data, 0) if not removed else (_render(kept, manifest), removed)


def rejects_without(data: bytes, manifest: dict[str, Any], people: list[Person]) -> tuple:
    """The rejects CSV (``contact_id;reason``) without the people's records, household rejects
    naming them naming their pseudonyms; (bytes, removed, changed)."""
    ids = {safe_cell(p.contact_id): p for p in people}
    records = _records(data, manifest)
    kept, changed = records[:1], 0
    for record in records[1:]:
        if record and record[0] in ids:
            continue
        reason = record[1] if len(record) > 1 else ""
        for p in people:
            renamed = reason.replace(f"same as {p.contact_id}", f"same as {p.pseudonym}")
            if renamed != reason:
                record = [record[0], renamed, *record[2:]]
                reason, changed = renamed, changed + 1
        kept.append(record)
    removed = len(records) - len(kept)
    if not removed and not changed:
        return data, 0, 0
    return _render(kept, manifest), removed, changed


def scrub_set(
    files: dict[str, bytes | None], manifest_name: str, people: list[Person], fields: Sequence[str]
) -> dict | None:
    """The set ``{name: bytes}`` (CSV, rejects, manifest, marker; as written) without the
    people's records, or None when it does not name them. ``fields``: the profile's fields,
    in the order of the file's columns."""
    manifest = json.loads(files[manifest_name])
    if list(manifest.get("columns", [])) and len(manifest["columns"]) != len(fields):
        raise ValueError("the file's columns are not the vendor profile's")
    csv_name, rejects_name = manifest["file"], manifest.get("rejects", {}).get("file")
    out = dict(files)
    touched = 0
    if files.get(csv_name) is not None:
        matches = [line_of(p, fields) for p in people]
        out[csv_name], n = without(files[csv_name], manifest, lambda c: any(m(c) for m in matches))
        manifest["row_count"] -= n
        manifest["sha256"] = sha256(out[csv_name])
        touched += n
    if rejects_name and files.get(rejects_name) is not None:
        out[rejects_name], n, changed = rejects_without(files[rejects_name], manifest, people)
        manifest["rejects"]["row_count"] -= n
        manifest["rejects"]["sha256"] = sha256(out[rejects_name])
        touched += n + changed
    if not touched:
        return None
    out[manifest_name] = canonical_json(manifest)
    done = [n for n in files if n.endswith(".done")]
    if done:
        listed = [csv_name, manifest_name] + ([rejects_name] if rejects_name else [])
        out[done[0]] = "".join(
            f"{sha256(out[name])}  {name}\n" for name in listed if out.get(name) is not None
        ).encode()
    return out
