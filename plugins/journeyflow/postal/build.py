"""Build a campaign's mailing from its queued letters, and record it before anything is sent.

Building and recording is one transaction that locks the queued rows: the files' bytes go into
``postal_exports``, the pieces become ``exported`` in the outbox (and so in ``send_log``),
household duplicates ``household`` and rejects ``cancelled``. A recorded mailing is final until
it is delivered; only an objection before delivery undoes it (``take_out_objectors``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.config import VendorProfile, home
from journeyflow.postal.address import check_addresses
from journeyflow.postal.mailfile import mailing_names, render_mailing, render_rejects, write_atomic
from journeyflow.sqlfile import statement
from journeyflow.states import Status

log = logging.getLogger(__name__)


def build_dir() -> Path:
    """Where mailing files are written before delivery: ``$JOURNEYFLOW_HOME/postal_build``."""
    return home() / "postal_build"


def undelivered_before(run_date: date, campaign: str) -> list[dict[str, Any]]:
    """Recorded mailings of the campaign before D that were never delivered, oldest first."""
    key = {"campaign": campaign, "run_date": run_date}
    with warehouse.transaction() as conn:
        return [
            dict(r) for r in conn.execute(statement("postal/undelivered_before"), key).mappings()
        ]


def recorded(run_date: date, campaign: str) -> dict[str, Any] | None:
    """The mailing recorded for (run_date, campaign), or None."""
    key = {"campaign": campaign, "run_date": run_date}
    with warehouse.transaction() as conn:
        row = conn.execute(statement("postal/mailing"), key).mappings().first()
    return dict(row) if row is not None else None


def build(
    run_date: date, campaign: str, run_id: str, profile: VendorProfile, action: str
) -> Path | None:
    """Build the mailing of the queued rows and record it, in one transaction that locks those
    rows; nothing is delivered here. Returns the local rejects file when every row was
    rejected."""
    key = {"run_date": run_date, "campaign": campaign}
    with warehouse.transaction() as conn:
        outbox = conn.execute(statement("postal/queued_pieces"), key).mappings().all()
        if not outbox:
            return None
        objecting = set(objectors(conn, [row["outbox_id"] for row in outbox]).values())
        # one piece per contact: its first queued row; further rows of it are left out
        piece_of: dict[str, int] = {}  # contact -> the outbox row of its piece
        known: list[dict[str, Any]] = []
        left_out: list[tuple[str, str]] = []  # contacts not found, objectors
        repeats: list[tuple[int, str]] = []
        for row in outbox:
            if row["contact_id"] in piece_of:
                repeats.append((row["outbox_id"], "duplicate: contact already in this mailing"))
                continue
            piece_of[row["contact_id"]] = row["outbox_id"]
            if not row["known"]:
                left_out.append((row["contact_id"], "contact not found"))
            elif row["contact_id"] in objecting:
                left_out.append((row["contact_id"], "objected to postal advertising"))
            else:
                known.append(dict(row))
        accepted, rejects = check_addresses(known, profile.encoding, fields=profile.fields)
        rejects = sorted(rejects + left_out)
        _record_rejects(conn, run_date, campaign, rejects)
        # with those of earlier builds of the date: the file lists them all
        all_rejects = [tuple(r) for r in conn.execute(statement("postal/rejects"), key)]
        if not accepted:
            _set_status(conn, Status.CANCELLED, [(piece_of[c], r) for c, r in rejects] + repeats)
            if not rejects:
                return None
            names = mailing_names(campaign, run_date)  # nothing goes to the vendor; the
            path = Path(build_dir(), *names.folder.parts, names.rejects)  # rejects stay readable
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, render_rejects(all_rejects, profile))
            return path

        mailing = render_mailing(accepted, all_rejects, profile, campaign, run_date, run_id, action)
        pieces = [piece_of[row["contact_id"]] for row in accepted]
        households = [(piece_of[c], r) for c, r in rejects if r.startswith("household:")]
        cancel = [(piece_of[c], r) for c, r in rejects if not r.startswith("household:")]
        conn.execute(
            statement("postal/record_mailing"),
            {**key, "run_id": run_id, "rows": mailing.rows, "sha256": mailing.sha256,
             "file_name": str(mailing.names.folder / mailing.names.csv), "csv": mailing.csv,
             "manifest": mailing.manifest, "rejects_file": mailing.rejects, "done": mailing.done,
             "pieces": pieces, "households": [h for h, _ in households]},
        )  # fmt: skip
        conn.execute(statement("postal/mark_exported"), {"ids": pieces})
        _set_status(conn, Status.HOUSEHOLD, households)
        _set_status(conn, Status.CANCELLED, cancel + repeats)
    return None


def _set_status(conn: Connection, status: Status, rows: list[tuple[int, str]]) -> None:
    """Outbox rows ``(outbox_id, reason)`` get ``status`` with the reason as last_error."""
    if rows:
        conn.execute(
            statement("postal/set_status"),
            [
                {"status": status.value, "id": outbox_id, "reason": reason}
                for outbox_id, reason in rows
            ],
        )


def take_out_objectors(row: Mapping[str, Any]) -> bool:
    """Undo an undelivered build when one of its contacts has objected since: its pieces and
    their household members go back to the queue and the build is removed, in one
    transaction, so that ``build`` decides again. True when that happened."""
    with warehouse.transaction() as conn:
        objecting = objectors(conn, list(row["pieces"] or []))
        if not objecting:
            return False
        log.warning(
            "postal %s %s: %d piece(s) objected to postal advertising before the mailing was "
            "delivered (outbox ids %s); building it again without them",
            row["campaign"], row["run_date"], len(objecting), sorted(objecting),
        )  # fmt: skip
        take_apart(conn, row)
    return True


def take_apart(conn: Connection, row: Mapping[str, Any], also: Sequence[str] = ()) -> None:
    """Undo the undelivered build ``row`` (its ``run_date``, ``campaign``, ``pieces``,
    ``households``): its pieces and household members are queued again, their rejects (and
    those of the contacts ``also``) forgotten, and the build removed, for ``build`` to decide
    again."""
    key = {"run_date": row["run_date"], "campaign": row["campaign"]}
    requeued = conn.execute(
        statement("postal/requeue_pieces"),
        {"pieces": list(row["pieces"] or []), "households": list(row["households"] or [])},
    ).all()
    contacts = [c for (c,) in requeued] + list(also)
    conn.execute(statement("postal/forget_rejects"), {**key, "contacts": contacts})
    conn.execute(statement("postal/forget_build"), key)


def objectors(conn: Connection, outbox_ids: list[int]) -> dict[int, str]:
    """Outbox row -> contact id, for the rows whose contact objects to postal advertising now
    (``postal_opt_out``, a postal ``unsubscribe`` event, a postal suppression)."""
    rows = conn.execute(statement("postal/objectors"), {"ids": outbox_ids})
    return {outbox_id: contact_id for outbox_id, contact_id in rows}


def _record_rejects(conn: Connection, run_date: date, campaign: str, rejects: list) -> None:
    """Record ``(contact_id, reason)`` rows left out of the mailing of (run_date, campaign)."""
    if rejects:
        conn.execute(
            statement("postal/record_rejects"),
            [
                {"run_date": run_date, "campaign": campaign, "contact_id": c, "reason": r}
                for c, r in rejects
            ],
        )
