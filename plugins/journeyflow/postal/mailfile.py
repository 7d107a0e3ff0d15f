"""The mailing file set: CSV, manifest, rejects and the ``.done`` marker, byte for byte.

Rendering is pure (rows in, bytes out) and deterministic: the same rows, profile, campaign, date
and run id give the same bytes, so a rerun can be compared with what was delivered. Writing puts
every file under a temporary name in its folder, fsyncs it and renames it; ``.done`` comes last.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from journeyflow.config import VendorProfile

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REJECTS_HEADER = ("contact_id", "reason")


class EncodingError(ValueError):
    """Values that the vendor's encoding cannot represent (we never write '?' instead)."""

    def __init__(self, encoding: str, contact_ids: Sequence[str]):
        self.encoding = encoding
        self.contact_ids = list(contact_ids)
        shown = ", ".join(self.contact_ids[:20])
        more = f" and {len(self.contact_ids) - 20} more" if len(self.contact_ids) > 20 else ""
        super().__init__(
            f"{len(self.contact_ids)} row(s) cannot be encoded in {encoding}: contact ids "
            f"{shown}{more}; fix the data or use a profile with encoding utf-8"
        )


@dataclass(frozen=True)
class MailingNames:
    """Where the files of one campaign and date live, relative to a build folder or drop."""

    folder: PurePosixPath
    csv: str
    manifest: str
    rejects: str
    done: str

    @property
    def in_order(self) -> list[str]:
        """Delivery order: data, manifest, rejects, then the marker."""
        return [self.csv, self.manifest, self.rejects, self.done]


def mailing_names(campaign: str, run_date: date) -> MailingNames:
    """``<campaign>/<D>/mailing_<campaign>_<D>.{csv,manifest.json,rejects.csv,done}``."""
    if not campaign or "/" in campaign or "\\" in campaign or campaign.startswith("."):
        raise ValueError(f"campaign {campaign!r} cannot be used as a folder name")
    day = run_date.isoformat()
    stem = f"mailing_{campaign}_{day}"
    return MailingNames(
        folder=PurePosixPath(campaign, day),
        csv=f"{stem}.csv",
        manifest=f"{stem}.manifest.json",
        rejects=f"{stem}.rejects.csv",
        done=f"{stem}.done",
    )


def safe_cell(value: Any) -> str:
    """The cell as text; one that a spreadsheet would run as a formula gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Sequence[Any]], profile: VendorProfile) -> list[str]:
    """One string per record. The writer ends records with CRLF so that a CR or LF inside a
    field is always quoted; a profile with LF endings gets that ending swapped per record."""
    lines = []
    for row in rows:
        buf = io.StringIO(newline="")
        writer = csv.writer(
            buf, delimiter=profile.delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
        )
        writer.writerow([safe_cell(v) for v in row])
        lines.append(buf.getvalue()[:-2] + profile.line_terminator)
    return lines


def _encode(lines: Sequence[str], ids: Sequence[str], encoding: str) -> bytes:
    """Encode line by line; any failure names the contact ids of the lines that failed."""
    out, failed = [], []
    for line, contact_id in zip(lines, ids, strict=True):
        try:
            out.append(line.encode(encoding))
        except UnicodeEncodeError:
            failed.append(contact_id)
    if failed:
        raise EncodingError(encoding, failed)
    return b"".join(out)


def sort_key(row: Mapping[str, Any]) -> tuple[str, str]:
    """Rows go by postal code (as text), then contact id."""
    return (str(row.get("postal_code") or ""), str(row["contact_id"]))


def render_csv(
    rows: Iterable[Mapping[str, Any]], profile: VendorProfile, action: str = ""
) -> bytes:
    """The mailing CSV: header plus one record per row, sorted by PLZ then contact id.

    ``action`` fills the ``action`` field where a row has none. Raises EncodingError.
    """
    ordered = sorted(rows, key=sort_key)
    records = [profile.headers]
    for row in ordered:
        values = {**row, "action": row.get("action") or action}
        records.append([values.get(name) for name in profile.fields])
    ids = ["(header)"] + [str(row["contact_id"]) for row in ordered]
    return _encode(csv_lines(records, profile), ids, profile.encoding)


def render_rejects(rejects: Iterable[tuple[str, str]], profile: VendorProfile) -> bytes:
    """``contact_id;reason`` per rejected row, sorted by contact id, in the profile's format."""
    ordered = sorted((str(c), str(r)) for c, r in rejects)
    records = [list(REJECTS_HEADER)] + [list(r) for r in ordered]
    ids = ["(header)"] + [c for c, _ in ordered]
    return _encode(csv_lines(records, profile), ids, profile.encoding)


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """Sorted keys, two-space indent, UTF-8, trailing newline: the same data, the same bytes."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Mailing:
    """The rendered files of one campaign and date, in memory."""

    names: MailingNames
    csv: bytes
    manifest: bytes
    rejects: bytes
    done: bytes
    rows: int
    rejected: int

    @property
    def sha256(self) -> str:
        """sha256 of the mailing CSV."""
        return sha256(self.csv)

    def files(self) -> list[tuple[str, bytes]]:
        """``(name, bytes)`` in delivery order, the ``.done`` marker last."""
        data = {
            self.names.csv: self.csv,
            self.names.manifest: self.manifest,
            self.names.rejects: self.rejects,
            self.names.done: self.done,
        }
        return [(name, data[name]) for name in self.names.in_order]

    def write(self, base: Path) -> list[Path]:
        """Write the set under ``base/<campaign>/<D>/``; returns the paths in delivery order.

        Files already holding the same bytes are left alone. A stale ``.done`` is removed first,
        so the marker never stands next to files it does not describe.
        """
        folder = Path(base, *self.names.folder.parts)
        folder.mkdir(parents=True, exist_ok=True)
        done = folder / self.names.done
        if done.exists() and done.read_bytes() != self.done:
            done.unlink()
            _fsync_dir(folder)
        paths = []
        for name, data in self.files():
            path = folder / name
            if not (path.exists() and path.read_bytes() == data):
                write_atomic(path, data)
            paths.append(path)
        return paths


def render_mailing(
    rows: Iterable[Mapping[str, Any]],
    rejects: Iterable[tuple[str, str]],
    profile: VendorProfile,
    campaign: str,
    run_date: date,
    run_id: str,
    action: str | None = None,
) -> Mailing:
    """Render CSV, rejects, manifest and marker. No wall-clock time goes in: reruns match."""
    names = mailing_names(campaign, run_date)
    rows = list(rows)
    rejects = list(rejects)
    data = render_csv(rows, profile, action if action is not None else campaign)
    reject_bytes = render_rejects(rejects, profile)
    manifest = canonical_json(
        {
            "campaign": campaign,
            "columns": profile.headers,
            "delimiter": profile.delimiter,
            "encoding": profile.encoding,
            "file": names.csv,
            "line_terminator": profile.line_terminator,
            "profile": profile.name,
            "rejects": {
                "file": names.rejects,
                "row_count": len(rejects),
                "sha256": sha256(reject_bytes),
            },
            "row_count": len(rows),
            "run_date": run_date.isoformat(),
            "run_id": run_id,
            "sha256": sha256(data),
        }
    )
    # the marker lists every file with its checksum (``sha256sum -c`` format)
    done = "".join(
        f"{sha256(content)}  {name}\n"
        for name, content in (
            (names.csv, data),
            (names.manifest, manifest),
            (names.rejects, reject_bytes),
        )
    ).encode()
    return Mailing(names, data, manifest, reject_bytes, done, len(rows), len(rejects))


def build_mailing(
    base: Path,
    rows: Iterable[Mapping[str, Any]],
    rejects: Iterable[tuple[str, str]],
    profile: VendorProfile,
    campaign: str,
    run_date: date,
    run_id: str,
    action: str | None = None,
) -> list[Path]:
    """Render and write the set under ``base``; returns the paths in delivery order."""
    return render_mailing(rows, rejects, profile, campaign, run_date, run_id, action).write(base)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it, rename it over ``path``.

    The files hold addresses: private (0600) unless ``mode`` says otherwise."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
