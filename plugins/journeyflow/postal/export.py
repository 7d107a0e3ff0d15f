"""Export a campaign's queued postal outbox rows as the mailing file of a run date and deliver it.

A built mailing is final. Building it and recording it is one transaction: the files' bytes go
into ``postal_exports``, the pieces become ``exported`` in the outbox (and so in ``send_log``),
household duplicates ``household`` and rejects ``cancelled``. Only then is the set delivered, and
every retry or rerun delivers exactly those stored bytes: byte-identical, whatever changed in
the contact data since, and never a second time once ``delivered_at`` is set. An export also
finishes the deliveries of earlier dates that failed, and takes postal rows still queued from
earlier dates into its file, so nothing waits for a rerun of an old date. Logs carry ids and
counts only.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from journeyflow import settings, warehouse
from journeyflow.pipeline import StepResult, record_step
from journeyflow.postal.address import check_addresses
from journeyflow.postal.drop import deliver, marker_delivered, open_drop
from journeyflow.postal.mailfile import (
    Mailing,
    mailing_names,
    render_mailing,
    render_rejects,
    write_atomic,
)
from journeyflow.postal.profile import VendorProfile, action_code, active_profile

log = logging.getLogger(__name__)

CONTACT_FIELDS = (
    "salutation", "title", "first_name", "last_name", "company", "street", "house_number",
    "postal_code", "city", "country",
)  # fmt: skip

_QUEUED = text(
    f"""
    select o.outbox_id, o.contact_id, c.contact_id is not null as known,
           {", ".join(f"c.{name}" for name in CONTACT_FIELDS)}
    from journeyflow.outbox o
    left join journeyflow.contacts c on c.contact_id = o.contact_id
    where o.channel = 'postal' and o.campaign = :campaign and o.run_date <= :run_date
      and o.status = 'queued'
    order by o.contact_id, o.run_date, o.step, o.occurrence
    for update of o
    """
)

_STORED = """
    select run_date, campaign, run_id, file_name, rows, sha256, delivered_at, marker_at,
           csv, manifest, rejects_file, done, pieces, households
    from journeyflow.postal_exports
"""


class PostalExportError(RuntimeError):
    """The export cannot go on; the message says why and what to do."""


def build_dir() -> Path:
    """Where mailing files are written before delivery: ``$JOURNEYFLOW_HOME/postal_build``."""
    return settings.home() / "postal_build"


@contextmanager
def _export_lock(campaign: str) -> Iterator[None]:
    """One export of a campaign at a time (a session advisory lock)."""
    key = zlib.crc32(f"postal:{campaign}".encode()) - (1 << 31)
    with warehouse.engine().connect() as conn:
        got = conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if not got:
            raise PostalExportError(f"another postal export of {campaign} is running; retry later")
        try:
            yield
        finally:
            conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def export_mailing(run_date: date, campaign: str, run_id: str) -> dict[str, Any]:
    """Build (once), record and deliver the postal mailing of ``campaign`` for ``run_date``.

    Returns ``{rows, rejected, file, sha256, delivered, skipped, delivered_at, warnings, run_id,
    caught_up}``: pieces in the file, rows left out, the file's path in the drop, its sha256,
    files transferred and files already in the drop by this call, when the set was first
    delivered, and earlier dates whose delivery this call finished. With no piece to mail no
    file is built (``rows`` 0); the rejects are still recorded, and written as a local file.
    """
    started = time.perf_counter()
    raw = settings.load_config().raw
    profile = active_profile(raw)
    action = action_code(raw, campaign)
    _check_encodable(profile, campaign, action)
    key = {"run_date": run_date, "campaign": campaign}

    with _export_lock(campaign):
        caught_up = []  # earlier dates whose delivery failed: finished first
        for row in _stored(
            "where campaign = :campaign and run_date < :run_date and delivered_at is null", key
        ):
            if _deliver(row, profile, action)[1] is not None:
                caught_up.append(row["run_date"])
        rejects_file = None
        mailing = _recorded(run_date, campaign)
        if mailing is None:
            rejects_file = _build(run_date, campaign, run_id, profile, action)
            mailing = _recorded(run_date, campaign)
        delivery = None
        if mailing is not None:
            delivery, mailing = _deliver(mailing, profile, action)
        with warehouse.transaction() as conn:
            rejected = conn.execute(
                text(
                    "select count(*) from journeyflow.postal_rejects"
                    " where run_date = :run_date and campaign = :campaign"
                ),
                key,
            ).scalar_one()
        result: dict[str, Any] = {
            "rows": 0, "rejected": rejected, "file": None, "sha256": None, "delivered": 0,
            "skipped": 0, "delivered_at": None, "warnings": [], "run_id": None,
            "caught_up": [str(d) for d in caught_up],
        }  # fmt: skip
        if mailing is not None:
            result |= {"rows": mailing["rows"], "file": mailing["file_name"],
                       "sha256": mailing["sha256"], "run_id": mailing["run_id"],
                       "delivered_at": mailing["delivered_at"].isoformat(),
                       "delivered": len(delivery.delivered) if delivery else 0,
                       "skipped": len(delivery.skipped) if delivery else 0}  # fmt: skip
        if 0 < result["rows"] < profile.min_pieces:
            result["warnings"].append(
                f"postal {campaign} {run_date}: {result['rows']} pieces, below the minimum of "
                f"{profile.min_pieces} for profile {profile.name}; the file was delivered "
                "anyway (check the vendor's rate)"
            )
        elif not result["rows"] and rejected:
            where = f"; the rejects file is {rejects_file}" if rejects_file else ""
            result["warnings"].append(
                f"postal {campaign} {run_date}: no piece to mail, all {rejected} rows were "
                f"rejected (journeyflow.postal_rejects{where})"
            )
        for warning in result["warnings"]:
            log.warning(warning)
    log.info(
        "postal %s %s: %d pieces, %d rejected, %d file(s) delivered, %d already in the drop"
        "%s",
        campaign, run_date, result["rows"], result["rejected"], result["delivered"],
        result["skipped"],
        f"; finished the delivery of {', '.join(result['caught_up'])}" if caught_up else "",
    )  # fmt: skip
    with warehouse.transaction() as conn:
        seconds = time.perf_counter() - started
        step = StepResult(f"export_postal.{campaign}", result["rows"] + result["rejected"],
                          result["rows"], 0, seconds, dict(result))  # fmt: skip
        record_step(conn, run_date, step)
    return result


def _check_encodable(profile: VendorProfile, campaign: str, action: str) -> None:
    """The action code must be writable in the profile's encoding (a config error, not data)."""
    try:
        action.encode(profile.encoding)
    except UnicodeEncodeError:
        raise PostalExportError(
            f"{settings.config_path()}: postal.action_codes.{campaign} ({action!r}) cannot be "
            f"written in {profile.encoding}, the encoding of postal profile {profile.name}; "
            "change the code or the profile"
        ) from None


def _stored(where: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    with warehouse.transaction() as conn:
        rows = conn.execute(text(f"{_STORED} {where} order by run_date"), params).mappings()
        return [dict(r) for r in rows]


def _recorded(run_date: date, campaign: str) -> dict[str, Any] | None:
    """The mailing recorded for (run_date, campaign), or None."""
    rows = _stored(
        "where campaign = :campaign and run_date = :run_date",
        {"run_date": run_date, "campaign": campaign},
    )
    return rows[0] if rows else None


def _build(
    run_date: date, campaign: str, run_id: str, profile: VendorProfile, action: str
) -> Path | None:
    """Build the mailing of the queued rows and record it, in one transaction that locks those
    rows; nothing is delivered here. Returns the local rejects file when every row was
    rejected."""
    key = {"run_date": run_date, "campaign": campaign}
    with warehouse.transaction() as conn:
        outbox = conn.execute(_QUEUED, key).mappings().all()
        if not outbox:
            return None
        objectors = set(_objectors(conn, [row["outbox_id"] for row in outbox]).values())
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
            elif row["contact_id"] in objectors:
                left_out.append((row["contact_id"], "objected to postal advertising"))
            else:
                known.append(dict(row))
        accepted, rejects = check_addresses(known, profile.encoding, fields=profile.fields)
        rejects = sorted(rejects + left_out)
        _record_rejects(conn, run_date, campaign, rejects)
        all_rejects = [  # with those of earlier builds of the date: the file lists them all
            tuple(r)
            for r in conn.execute(
                text(
                    "select contact_id, reason from journeyflow.postal_rejects"
                    " where run_date = :run_date and campaign = :campaign order by contact_id"
                ),
                key,
            )
        ]
        if not accepted:
            _set_status(conn, "cancelled", [(piece_of[c], r) for c, r in rejects] + repeats)
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
            text(
                """
                insert into journeyflow.postal_exports (run_date, campaign, run_id, file_name,
                    rows, sha256, csv, manifest, rejects_file, done, pieces, households)
                values (:run_date, :campaign, :run_id, :file_name, :rows, :sha256, :csv,
                    :manifest, :rejects_file, :done, :pieces, :households)
                """
            ),
            {**key, "run_id": run_id, "rows": mailing.rows, "sha256": mailing.sha256,
             "file_name": str(mailing.names.folder / mailing.names.csv), "csv": mailing.csv,
             "manifest": mailing.manifest, "rejects_file": mailing.rejects, "done": mailing.done,
             "pieces": pieces, "households": [h for h, _ in households]},
        )  # fmt: skip
        conn.execute(
            text(
                "update journeyflow.outbox set status = 'exported', last_error = null,"
                " sent_at = coalesce(sent_at, now()) where outbox_id = any(:ids)"
            ),
            {"ids": pieces},
        )
        _set_status(conn, "household", households)
        _set_status(conn, "cancelled", cancel + repeats)
    return None


def _set_status(conn: Any, status: str, rows: list[tuple[int, str]]) -> None:
    """Outbox rows ``(outbox_id, reason)`` get ``status`` with the reason as last_error."""
    if rows:
        conn.execute(
            text(
                "update journeyflow.outbox set status = :status, last_error = :reason"
                " where outbox_id = :id"
            ),
            [{"status": status, "id": outbox_id, "reason": reason} for outbox_id, reason in rows],
        )


def _deliver(
    row: dict[str, Any], profile: VendorProfile, action: str
) -> tuple[Any, dict[str, Any] | None]:
    """Deliver a recorded mailing unless it was delivered before: (the drop's result or None,
    the row as delivered, or None when no piece is left).

    Before delivering, pieces whose contact has since objected to postal advertising are taken
    out: the mailing is built again without them (the vendor has not seen it yet).
    """
    if row["delivered_at"] is not None:
        return None, row
    names = mailing_names(row["campaign"], row["run_date"])
    key = {"run_date": row["run_date"], "campaign": row["campaign"]}

    def marker_next() -> None:  # committed before the marker goes up: see the in-doubt case
        with warehouse.transaction() as conn:
            conn.execute(
                text(
                    "update journeyflow.postal_exports set marker_at = now()"
                    " where run_date = :run_date and campaign = :campaign"
                ),
                key,
            )

    with open_drop() as drop:  # one session: look, then deliver
        if marker_delivered(drop, str(names.folder), names.done, bytes(row["done"])):
            log.info("postal %s %s: the set is in the drop already; recording its delivery",
                     row["campaign"], row["run_date"])  # fmt: skip
            return None, _record_delivery(row)
        if row["marker_at"] is not None:
            raise PostalExportError(
                f"postal {row['campaign']} {row['run_date']}: the export stopped while putting "
                f"the .done marker of {names.folder} into the drop, and it is not there now: "
                "either that upload failed or the vendor has already taken the set. Ask the "
                f"vendor, then run `journeyflow postal --date {row['run_date']} --campaign "
                f"{row['campaign']} --resolve delivered` (they have it) or `--resolve resend`."
            )
        if _take_out_objectors(row):
            _build(row["run_date"], row["campaign"], row["run_id"], profile, action)
            rebuilt = _recorded(row["run_date"], row["campaign"])
            if rebuilt is None:
                return None, None
            row = rebuilt
        mailing = Mailing(names, bytes(row["csv"]), bytes(row["manifest"]),
                          bytes(row["rejects_file"]), bytes(row["done"]), row["rows"],
                          0)  # fmt: skip
        paths = mailing.write(build_dir())
        delivery = deliver(drop, paths, str(names.folder), before_marker=marker_next)
    return delivery, _record_delivery(row)


def _record_delivery(row: dict[str, Any]) -> dict[str, Any]:
    with warehouse.transaction() as conn:
        row["delivered_at"] = conn.execute(
            text(
                "update journeyflow.postal_exports set delivered_at = coalesce(delivered_at, now())"
                " where run_date = :run_date and campaign = :campaign returning delivered_at"
            ),
            {"run_date": row["run_date"], "campaign": row["campaign"]},
        ).scalar_one()
    return row


def _take_out_objectors(row: Mapping[str, Any]) -> bool:
    """Undo an undelivered build when one of its contacts has objected since: its pieces and
    their household members go back to the queue and the build is removed, in one
    transaction, so that ``_build`` decides again. True when that happened."""
    pieces = list(row["pieces"] or [])
    key = {"run_date": row["run_date"], "campaign": row["campaign"]}
    with warehouse.transaction() as conn:
        objectors = _objectors(conn, pieces)
        if not objectors:
            return False
        log.warning(
            "postal %s %s: %d piece(s) objected to postal advertising before the mailing was "
            "delivered (outbox ids %s); building it again without them",
            row["campaign"], row["run_date"], len(objectors), sorted(objectors),
        )  # fmt: skip
        requeued = conn.execute(
            text(
                "update journeyflow.outbox set status = 'queued', last_error = null,"
                " sent_at = null where (outbox_id = any(:pieces) and status = 'exported')"
                " or (outbox_id = any(:households) and status = 'household')"
                " returning contact_id"
            ),
            {"pieces": pieces, "households": list(row["households"] or [])},
        ).all()
        conn.execute(
            text(
                "delete from journeyflow.postal_rejects where run_date = :run_date"
                " and campaign = :campaign and contact_id = any(:contacts)"
            ),
            {**key, "contacts": [c for (c,) in requeued]},
        )
        conn.execute(
            text(
                "delete from journeyflow.postal_exports where run_date = :run_date"
                " and campaign = :campaign and delivered_at is null"
            ),
            key,
        )
    return True


def _objectors(conn: Any, outbox_ids: list[int]) -> dict[int, str]:
    """Outbox row -> contact id, for the rows whose contact objects to postal advertising now
    (``postal_opt_out``, a postal ``unsubscribe`` event, a postal suppression)."""
    rows = conn.execute(
        text(
            """
            with o as (
                select outbox_id, contact_id from journeyflow.outbox
                where outbox_id = any(:ids)
            )
            select o.outbox_id, o.contact_id
            from o left join journeyflow.contacts c using (contact_id)
            where coalesce(c.postal_opt_out, false)
               or o.contact_id in (select s.contact_id from journeyflow.suppressions s
                                   where s.channel = 'postal')
               or o.contact_id in (select e.contact_id from journeyflow.events e
                                   where e.type = 'unsubscribe' and e.channel = 'postal'
                                     and e.contact_id in (select contact_id from o))
            """
        ),
        {"ids": outbox_ids},
    )
    return {outbox_id: contact_id for outbox_id, contact_id in rows}


def _record_rejects(conn: Any, run_date: date, campaign: str, rejects: list) -> None:
    """Record ``(contact_id, reason)`` rows left out of the mailing of (run_date, campaign)."""
    if rejects:
        conn.execute(
            text(
                "insert into journeyflow.postal_rejects (run_date, campaign, contact_id, reason)"
                " values (:run_date, :campaign, :contact_id, :reason)"
                " on conflict (run_date, campaign, contact_id)"
                " do update set reason = excluded.reason"
            ),
            [
                {"run_date": run_date, "campaign": campaign, "contact_id": c, "reason": r}
                for c, r in rejects
            ],
        )


def resolve(run_date: date, campaign: str, outcome: str) -> int:
    """Settle a mailing whose marker upload was in doubt: ``delivered`` (the vendor has it) or
    ``resend`` (deliver it again with the next export). Returns the rows changed (0 or 1)."""
    if outcome not in ("delivered", "resend"):
        raise ValueError(f"outcome must be delivered or resend, not {outcome!r}")
    change = "delivered_at = now()" if outcome == "delivered" else "marker_at = null"
    with warehouse.transaction() as conn:
        return conn.execute(
            text(
                f"update journeyflow.postal_exports set {change} where run_date = :run_date"
                " and campaign = :campaign and delivered_at is null and marker_at is not null"
            ),
            {"run_date": run_date, "campaign": campaign},
        ).rowcount


def mailings(run_date: date | None = None) -> list[dict[str, Any]]:
    """The recorded mailings (of one date, or all), newest first, without their bytes."""
    with warehouse.transaction() as conn:
        rows = conn.execute(
            text(
                "select run_date, campaign, rows, sha256, run_id, marker_at, delivered_at,"
                " (select count(*) from journeyflow.postal_rejects r where r.run_date = e.run_date"
                "  and r.campaign = e.campaign) as rejected"
                " from journeyflow.postal_exports e"
                " where cast(:run_date as date) is null or run_date = :run_date"
                " order by run_date desc, campaign"
            ),
            {"run_date": run_date},
        ).mappings()
        return [dict(r) for r in rows]
