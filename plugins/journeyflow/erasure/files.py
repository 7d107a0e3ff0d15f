"""The files under ``$JOURNEYFLOW_HOME`` that name forgotten people.

- ``.eml`` files addressed to them (the local outbox, notifications) are deleted;
- mailing file sets (the local drop, the build folder) lose their lines, their manifest and
  ``.done`` marker are written again to match;
- any other file (Data Docs, JSON) gets their email address replaced by ``[erased]``.

Not swept: the embedded database's own folder (``pgdata``; the warehouse is scrubbed by SQL),
Airflow's folder (metadata and logs hold ids and counts, never addresses), key files, and the
demo shop's own state (it plays the source system, which is not ours to change).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from journeyflow.config import home, load_config
from journeyflow.erasure.mailings import Person, rejects_without, scrub_set
from journeyflow.erasure.person import distinctive_values
from journeyflow.postal.mailfile import write_atomic

log = logging.getLogger(__name__)

SKIP_DIRS = {"pgdata", "airflow", "run"}
SKIP_FILES = {"demo_source.json", "demo_responses.json", "erasure.key", "unsubscribe.key"}
ERASED = b"[erased]"


def sweep(people: list[Person], root: Path | None = None) -> dict[str, int]:
    """Remove what names ``people`` from the files under ``root`` (``$JOURNEYFLOW_HOME``);
    returns counts per kind of change."""
    root = root or home()
    needles = [v.encode() for p in people for v in distinctive_values(p.values)]
    fields = load_config().postal.profile.fields
    counts = {"emails_deleted": 0, "mailing_sets_rewritten": 0, "files_rewritten": 0}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        manifests = [n for n in names if n.endswith(".manifest.json")]
        in_sets: set[str] = set()
        for manifest in manifests:
            in_sets |= _mailing_set(here, manifest, names, people, fields, counts)
        for name in names:
            if name in in_sets or name in SKIP_FILES or name.startswith("."):
                continue
            path = here / name
            if name.endswith(".rejects.csv"):  # a rejects file without a mailing
                data = path.read_bytes()
                kept, removed, changed = rejects_without(data, {}, people)
                if removed or changed:
                    write_atomic(path, kept, mode=path.stat().st_mode & 0o777)
                    counts["files_rewritten"] += 1
                continue
            data = path.read_bytes()
            if not any(n in data for n in needles):
                continue
            if name.endswith(".eml"):
                path.unlink()
                counts["emails_deleted"] += 1
                continue
            for needle in needles:
                data = data.replace(needle, ERASED)
            write_atomic(path, data, mode=path.stat().st_mode & 0o777)
            counts["files_rewritten"] += 1
    log.info("erasure: files under %s: %s", root, counts)
    return counts


def _mailing_set(
    folder: Path,
    manifest: str,
    names: list[str],
    people: list[Person],
    fields: list[str],
    counts: dict[str, int],
) -> set[str]:
    stem = manifest.removesuffix(".manifest.json")
    members = [n for n in names if n.startswith(stem + ".") or n == stem + ".csv"]
    files = {n: (folder / n).read_bytes() for n in members}
    try:
        scrubbed = scrub_set(files, manifest, people, fields)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        log.warning("erasure: %s is not a mailing set journeyflow wrote (%s)", folder, exc)
        return set()
    if scrubbed is not None:
        done = [n for n in members if n.endswith(".done")]
        modes = {n: (folder / n).stat().st_mode & 0o777 for n in members}
        if done:  # no marker stands next to files it does not describe, even for a moment
            (folder / done[0]).unlink()
        for name in [n for n in members if not n.endswith(".done")] + done:
            write_atomic(folder / name, scrubbed[name], mode=modes[name])
        counts["mailing_sets_rewritten"] += 1
    return set(members)
