"""Forgetting a person (GDPR Art. 17): the warehouse in one transaction, then the files.

Every row of theirs keeps its place in the counts under a pseudonym (``erased-<random>``) and
loses every personal value; the contact id and the email address stay only as keyed hashes
(``journeyflow.erasures``), so a later import of the same person is recognised and not stored
(``exclude_staged``). Undelivered mailings that hold them are taken apart and built again without
them by the next export; delivered ones keep their place, their stored copy loses the lines.
Files under ``$JOURNEYFLOW_HOME`` that name them go as well (``files.sweep``).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.erasure.keys import ErasureKey, ErasureKeyError, load_key
from journeyflow.erasure.mailings import person_matcher, scrub_set
from journeyflow.erasure.person import distinctive_values, personal_values
from journeyflow.postal.mailfile import mailing_names
from journeyflow.sqlfile import read, statement

log = logging.getLogger(__name__)

REASON = "erased on request (GDPR Art. 17)"
AGAIN = "erased on request (GDPR Art. 17): the person is not stored again"
_STATEMENTS = re.compile(r";\s*\n")


@dataclass
class Forgotten:
    """What forgetting one person did: the pseudonym and the rows and files it touched."""

    contact_id: str
    pseudonym: str
    already: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    mailings_rebuilt: list[str] = field(default_factory=list)
    mailings_scrubbed: list[str] = field(default_factory=list)


def forget(contact_ids: list[str], requested_by: str, requested_at: datetime | None = None,
           *, key: ErasureKey | None = None) -> list[Forgotten]:  # fmt: skip
    """Forget each contact (one transaction each), then sweep the local files once for all.

    A contact forgotten before is reported as ``already``; one the warehouse never held is a
    ``LookupError`` before anything changes."""
    from journeyflow.erasure.files import sweep

    key = key or checked_key()
    done, values = [], []
    for contact_id in contact_ids:
        result, person = _forget_one(contact_id, requested_by, requested_at, key)
        done.append(result)
        if person is not None:
            values.append((contact_id, person))
    if values:
        counts = sweep(values)
        for result in done:
            if not result.already:
                result.files = counts
    for result in done:
        log.info(
            "erasure: a contact is now %s (%s); rows %s",
            result.pseudonym, "forgotten before" if result.already else requested_by, result.rows,
        )  # fmt: skip
    return done


def checked_key() -> ErasureKey:
    """The erasure key, checked against the key the stored hashes were made with."""
    key = load_key()
    with warehouse.transaction() as conn:
        stored = {k for (k,) in conn.execute(statement("erasure/key_ids"))}
    if stored and stored != {key.key_id}:
        raise ErasureKeyError(
            f"the erasure key from {key.source} (id {key.key_id}) is not the one the stored "
            f"erasures were hashed with (id {', '.join(sorted(stored))}): restore that key, or "
            "forgotten people are no longer recognised when the source sends them again"
        )
    return key


def _forget_one(
    contact_id: str, requested_by: str, requested_at: datetime | None, key: ErasureKey
) -> tuple[Forgotten, dict[str, Any] | None]:
    hashing = key.sql_params()
    with warehouse.transaction() as conn:
        person = conn.execute(statement("erasure/person"), {"contact_id": contact_id}).mappings()
        person = person.first()
        if person is None or person["erased_at"] is not None:
            before = conn.execute(
                statement("erasure/already"), {"contact_id": contact_id, **hashing}
            ).first()
            if before is None:
                raise LookupError(f"contact {contact_id} is not in the warehouse")
            return Forgotten(contact_id, before.pseudonym, already=True), None
        person = dict(person)
        pseudonym = f"erased-{secrets.token_hex(8)}"
        conn.execute(
            statement("erasure/record"),
            {"contact_id": contact_id, "pseudonym": pseudonym, "key_id": key.key_id,
             "requested_by": requested_by, "requested_at": requested_at or datetime.now(UTC),
             **hashing},
        )  # fmt: skip
        result = Forgotten(contact_id, pseudonym)
        _mailings(conn, contact_id, person, result)
        params = {
            "contact_id": contact_id, "pseudonym": pseudonym, "reason": REASON,
            "personal": personal_values(person), "distinctive": distinctive_values(person),
        }  # fmt: skip
        for sql in _STATEMENTS.split(read("erasure/forget")):
            if sql.strip() and not all(
                line.lstrip().startswith("--") for line in sql.strip().splitlines()
            ):
                rowcount = conn.execute(text(sql), params).rowcount
                table = _table(sql)
                if table and rowcount and rowcount > 0:
                    result.rows[table] = result.rows.get(table, 0) + rowcount
        conn.execute(
            statement("erasure/counts"), {"pseudonym": pseudonym, "counts": _json(result.rows)}
        )
    return result, person


def _mailings(conn: Connection, contact_id: str, person: dict, result: Forgotten) -> None:
    """Undelivered mailings with the person are taken apart (their pieces queued again, built
    again by the next export); delivered ones keep their place, the stored copy loses the
    person's lines."""
    ids = [i for (i,) in conn.execute(statement("erasure/outbox_ids"), {"contact_id": contact_id})]
    match = person_matcher(contact_id, person)
    for m in conn.execute(
        statement("erasure/mailings_of"), {"ids": ids, "contact_id": contact_id}
    ).mappings().all():  # fmt: skip
        key = {"run_date": m["run_date"], "campaign": m["campaign"]}
        name = f"{m['campaign']} {m['run_date']}"
        if not m["delivered"]:
            requeued = conn.execute(
                statement("postal/requeue_pieces"),
                {"pieces": list(m["pieces"] or []), "households": list(m["households"] or [])},
            ).all()
            contacts = [c for (c,) in requeued] + [contact_id]
            conn.execute(statement("postal/forget_rejects"), {**key, "contacts": contacts})
            conn.execute(statement("postal/forget_build"), key)
            result.mailings_rebuilt.append(name)
            continue
        stored = conn.execute(statement("erasure/mailing_files"), key).mappings().first()
        names = mailing_names(m["campaign"], m["run_date"])
        files = {names.csv: stored["csv"], names.manifest: stored["manifest"],
                 names.rejects: stored["rejects_file"], names.done: stored["done"]}  # fmt: skip
        if files[names.manifest] is None:
            continue
        files = {k: None if v is None else bytes(v) for k, v in files.items()}
        scrubbed = scrub_set(files, names.manifest, match)
        if scrubbed is None:
            continue
        manifest = json.loads(scrubbed[names.manifest])
        conn.execute(
            statement("erasure/scrub_mailing"),
            {**key, "csv": scrubbed[names.csv], "manifest": scrubbed[names.manifest],
             "rejects_file": scrubbed[names.rejects], "done": scrubbed[names.done],
             "rows": manifest["row_count"], "sha256": manifest["sha256"]},
        )  # fmt: skip
        result.mailings_scrubbed.append(name)


def requested(run_date: date) -> int:
    """Forget every contact with an ``erasure_request`` event in the staged batch (merged by
    now); returns how many."""
    with warehouse.transaction() as conn:
        pending = conn.execute(statement("erasure/pending")).all()
    if not pending:
        return 0
    key = checked_key()
    for row in pending:
        forget([row.contact_id], f"erasure_request event {row.event_id}", row.occurred_at, key=key)
    log.info("erasure: %d contact(s) forgotten on request in the run of %s", len(pending), run_date)
    return len(pending)


def exclude_staged(conn: Connection, run_date: date) -> int:
    """People forgotten earlier leave the staged batch (contacts and their events) before
    anything else sees it; one quarantine row per record, without personal values."""
    if not conn.execute(statement("erasure/key_ids")).first():
        return 0  # nobody was ever forgotten: nothing to hash
    key = checked_key()
    return conn.execute(
        statement("erasure/staged_again"), {"d": run_date, "reason": AGAIN, **key.sql_params()}
    ).scalar_one()


def _table(sql: str) -> str | None:
    found = re.search(r"^\s*(?:update|delete from)\s+([\w.]+)", _strip_comments(sql), re.M)
    return found[1].split(".")[-1] if found else None


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
