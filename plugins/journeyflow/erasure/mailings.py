"""A person's lines out of a mailing file set (CSV, rejects, manifest, ``.done`` marker).

The set stays consistent: the manifest's row counts and checksums and the marker's checksums
describe the files as they are after the lines went. Every other line keeps its bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from journeyflow.postal.mailfile import canonical_json, csv_lines, sha256

Match = Callable[[list[str]], bool]


def person_matcher(contact_id: str, person: dict[str, Any]) -> Match:
    """Whether a record (its cells) is this person's: it names the contact id or the email
    address, or holds both their last name and their street."""
    ids = {v for v in (contact_id, person.get("email")) if v}
    last, street = person.get("last_name"), person.get("street")

    def match(cells: list[str]) -> bool:
        plain = {c[1:] if c.startswith("'") else c for c in cells}
        return bool(ids & plain) or bool(last and street and last in plain and street in plain)

    return match


def without(data: bytes, manifest: dict[str, Any], match: Match) -> tuple[bytes, int]:
    """The CSV ``data`` (header first) without the records ``match`` names; (bytes, removed)."""
    encoding, delimiter = manifest.get("encoding", "utf-8"), manifest.get("delimiter", ";")
    records = list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))
    kept = records[:1] + [r for r in records[1:] if not match(r)]
    removed = len(records) - len(kept)
    if not removed:
        return data, 0
    shape = SimpleNamespace(
        delimiter=delimiter, line_terminator=manifest.get("line_terminator", "\r\n")
    )
    return b"".join(line.encode(encoding) for line in csv_lines(kept, shape)), removed


def scrub_set(files: dict[str, bytes | None], manifest_name: str, match: Match) -> dict | None:
    """The set ``{name: bytes}`` (CSV, rejects, manifest, marker; as written) without the
    person's records, or None when none of them is in it."""
    manifest = json.loads(files[manifest_name])
    csv_name, rejects_name = manifest["file"], manifest.get("rejects", {}).get("file")
    out = dict(files)
    removed = 0
    if files.get(csv_name) is not None:
        out[csv_name], n = without(files[csv_name], manifest, match)
        manifest["row_count"] -= n
        manifest["sha256"] = sha256(out[csv_name])
        removed += n
    if rejects_name and files.get(rejects_name) is not None:
        out[rejects_name], n = without(files[rejects_name], manifest, match)
        manifest["rejects"]["row_count"] -= n
        manifest["rejects"]["sha256"] = sha256(out[rejects_name])
        removed += n
    if not removed:
        return None
    out[manifest_name] = canonical_json(manifest)
    done = [n for n in files if n.endswith(".done")]
    if done:
        listed = [csv_name, manifest_name] + ([rejects_name] if rejects_name else [])
        out[done[0]] = "".join(
            f"{sha256(out[name])}  {name}\n" for name in listed if out.get(name) is not None
        ).encode()
    return out
