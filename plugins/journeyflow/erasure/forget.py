"""Forgetting a person (GDPR Art. 17): the warehouse in one transaction per person, then what
names them in everyone's rows and in the files, once for all.

Every row of theirs keeps its place in the counts under a pseudonym (``erased-<random>``) and
loses every personal value; the contact id and the email address stay only as keyed hashes
(``journeyflow.erasures``), so a later import of the same person is recognised and not stored
(``exclude_staged``). Undelivered mailings that hold them are taken apart and built again without
them by the next export; delivered ones keep their place, their stored copy loses the lines.
Files under ``$JOURNEYFLOW_HOME`` that name them go as well (``files.sweep``). A person the
warehouse holds only in quarantine is forgotten there; one it never held, when the source asks,
leaves just the hash of the id, so that they are never stored.
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
from journeyflow.config import load_config
from journeyflow.erasure.keys import ErasureKey, ErasureKeyError, load_key
from journeyflow.erasure.mailings import Person, scrub_set
from journeyflow.erasure.person import distinctive_values, personal_values
from journeyflow.postal.build import take_apart
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
    unknown: bool = False  # the warehouse never held them: only the hash of the id is kept
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    mailings_rebuilt: list[str] = field(default_factory=list)
    mailings_scrubbed: list[str] = field(default_factory=list)


def forget(
    contact_ids: list[str],
    requested_by: str,
    requested_at: datetime | None = None,
    *,
    key: ErasureKey | None = None,
    unknown_ok: bool = False,
) -> list[Forgotten]:
    """Forget each contact (one transaction each), then scrub what names them in everyone's
    rows and in the local files, once for all of them.

    A contact forgotten before is reported as ``already``. One the warehouse never held is a
    ``LookupError`` before anything changes, unless ``unknown_ok`` (a request from the source):
    then the hash of the id is kept, so that the source's record of them is never stored."""
    items = [(c, requested_by, requested_at) for c in contact_ids]
    return _forget_all(items, key or checked_key(), unknown_ok)


def _forget_all(
    items: list[tuple[str, str, datetime | None]], key: ErasureKey, unknown_ok: bool
) -> list[Forgotten]:
    from journeyflow.erasure.files import sweep

    done, people = [], []
    for contact_id, requested_by, requested_at in items:
        result, person = _forget_one(contact_id, requested_by, requested_at, key, unknown_ok)
        done.append(result)
        if person is not None:
            people.append(Person(contact_id, result.pseudonym, person))
    if people:
        everywhere = _everywhere(people)
        counts = sweep(people)
        for result in done:
            if not result.already:
                result.files = counts
                result.rows.update(everywhere)
    for result, (_, requested_by, _) in zip(done, items, strict=True):
        log.info(
            "erasure: a contact is now %s (%s); rows %s",
            result.pseudonym, "forgotten before" if result.already else requested_by, result.rows,
        )  # fmt: skip
    return done


def checked_key(conn: Connection | None = None) -> ErasureKey:
    """The erasure key, checked against the key the stored hashes were made with (read on
    ``conn`` when given, else in a transaction of its own)."""
    key = load_key()
    if conn is None:
        with warehouse.transaction() as own:
            stored = {k for (k,) in own.execute(statement("erasure/key_ids"))}
    else:
        stored = {k for (k,) in conn.execute(statement("erasure/key_ids"))}
    if stored and stored != {key.key_id}:
        raise ErasureKeyError(
            f"the erasure key from {key.source} (id {key.key_id}) is not the one the stored "
            f"erasures were hashed with (id {', '.join(sorted(stored))}): restore that key, or "
            "forgotten people are no longer recognised when the source sends them again"
        )
    return key


def _forget_one(
    contact_id: str,
    requested_by: str,
    requested_at: datetime | None,
    key: ErasureKey,
    unknown_ok: bool,
) -> tuple[Forgotten, dict[str, Any] | None]:
    hashing = key.sql_params()
    ident = {"contact_id": contact_id}
    with warehouse.transaction() as conn:
        row = conn.execute(statement("erasure/person"), ident).mappings().first()
        before = conn.execute(statement("erasure/already"), {**ident, **hashing}).first()
        if before is not None:
            return Forgotten(contact_id, before.pseudonym, already=True), None
        found = None
        if row is not None:
            person = dict(row)
        else:  # held only in quarantine, or not at all
            found = conn.execute(statement("erasure/quarantined_person"), ident).scalar()
            if found is None and not unknown_ok:
                raise LookupError(f"contact {contact_id} is not in the warehouse")
            person = {k: v for k, v in (found or {}).items() if isinstance(v, str)}
        pseudonym = f"erased-{secrets.token_hex(8)}"
        email = person.get("email")
        conn.execute(
            statement("erasure/record"),
            {"pseudonym": pseudonym, "id_hash": key.hash_id(contact_id),
             "email_hash": key.hash_email(email.strip() if email else None),
             "key_id": key.key_id, "requested_by": requested_by,
             "requested_at": requested_at or datetime.now(UTC)},
        )  # fmt: skip
        result = Forgotten(contact_id, pseudonym, unknown=row is None and found is None)
        if row is not None:
            _mailings(conn, Person(contact_id, pseudonym, person), result)
        params = {
            "contact_id": contact_id, "pseudonym": pseudonym, "reason": REASON,
            "personal": personal_values(person), "distinctive": distinctive_values(person),
        }  # fmt: skip
        _run(conn, "erasure/forget", params, result.rows)
        conn.execute(
            statement("erasure/counts"), {"pseudonym": pseudonym, "counts": json.dumps(result.rows)}
        )
    return result, person


def _everywhere(people: list[Person]) -> dict[str, int]:
    """Everyone's rows that name the people: referrals by id, any event's properties by email
    address (a scan of every event: once per call, for all of them)."""
    rows: dict[str, int] = {}
    params = {
        "ids": [p.contact_id for p in people],
        "pseudonyms": [p.pseudonym for p in people],
        "distinctive": [v for p in people for v in distinctive_values(p.values)],
    }
    with warehouse.transaction() as conn:
        _run(conn, "erasure/forget_everywhere", params, rows)
    return {f"{table} (of others)": n for table, n in rows.items()}


def _run(conn: Connection, name: str, params: dict[str, Any], rows: dict[str, int]) -> None:
    """The statements of ``sql/<name>.sql`` in order, counting the rows each table lost."""
    for sql in _STATEMENTS.split(read(name)):
        if not _strip_comments(sql).strip():
            continue
        rowcount = conn.execute(text(sql), params).rowcount
        table = _table(sql)
        if table and rowcount and rowcount > 0:
            rows[table] = rows.get(table, 0) + rowcount


def _mailings(conn: Connection, person: Person, result: Forgotten) -> None:
    """Undelivered mailings with the person are taken apart (their pieces queued again, built
    again by the next export); delivered ones keep their place, the stored copy loses the
    person's lines."""
    ident = {"contact_id": person.contact_id}
    ids = [i for (i,) in conn.execute(statement("erasure/outbox_ids"), ident)]
    fields = load_config().postal.profile.fields
    for m in conn.execute(
        statement("erasure/mailings_of"), {"ids": ids, **ident}
    ).mappings().all():  # fmt: skip
        key = {"run_date": m["run_date"], "campaign": m["campaign"]}
        name = f"{m['campaign']} {m['run_date']}"
        if not m["delivered"]:
            take_apart(conn, m, also=[person.contact_id])
            result.mailings_rebuilt.append(name)
            continue
        stored = conn.execute(statement("erasure/mailing_files"), key).mappings().first()
        names = mailing_names(m["campaign"], m["run_date"])
        files = {names.csv: stored["csv"], names.manifest: stored["manifest"],
                 names.rejects: stored["rejects_file"], names.done: stored["done"]}  # fmt: skip
        if files[names.manifest] is None:
            continue
        files = {k: None if v is None else bytes(v) for k, v in files.items()}
        try:
            scrubbed = scrub_set(files, names.manifest, [person], fields)
        except ValueError as exc:
            log.warning("erasure: the stored mailing %s cannot be read (%s)", name, exc)
            continue
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


def forgotten(contact_id: str) -> bool:
    """Whether this contact id was forgotten (by its keyed hash); False while nobody was."""
    with warehouse.transaction() as conn:
        if not conn.execute(statement("erasure/key_ids")).first():
            return False
        key = checked_key(conn)
        return (
            conn.execute(
                statement("erasure/already"), {"contact_id": contact_id, **key.sql_params()}
            ).first()
            is not None
        )


def requested(run_date: date) -> int:
    """Forget every contact with an ``erasure_request`` event in the staged batch (merged by
    now), also one the warehouse holds only in quarantine or not at all; returns how many
    were forgotten now."""
    with warehouse.transaction() as conn:
        pending = conn.execute(statement("erasure/pending")).all()
    if not pending:
        return 0
    items = [(r.contact_id, f"erasure_request event {r.event_id}", r.occurred_at) for r in pending]
    done = _forget_all(items, checked_key(), unknown_ok=True)
    now = [d for d in done if not d.already]
    log.info("erasure: %d contact(s) forgotten on request in the run of %s", len(now), run_date)
    return len(now)


def exclude_staged(conn: Connection, run_date: date) -> int:
    """People forgotten earlier leave the staged batch (contacts and their events) before
    anything else sees it, and this run's quarantine keeps nothing of theirs; one quarantine
    row per record says why, without personal values."""
    if not conn.execute(statement("erasure/key_ids")).first():
        return 0  # nobody was ever forgotten: nothing to hash
    key = checked_key(conn)
    return conn.execute(
        statement("erasure/staged_again"), {"d": run_date, "reason": AGAIN, **key.sql_params()}
    ).scalar_one()


def _table(sql: str) -> str | None:
    found = re.search(r"^\s*(?:update|delete from)\s+([\w.]+)", _strip_comments(sql), re.M)
    if not found:
        return None
    schema, _, table = found[1].rpartition(".")
    return table if schema == "journeyflow" else found[1]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
