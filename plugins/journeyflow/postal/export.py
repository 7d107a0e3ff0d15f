"""Export a campaign's postal outbox rows of one run date as a mailing file and deliver it.

Idempotent per (run date, campaign): the run id of the first build is kept, so a rerun renders
byte-identical files; delivery skips files already in the drop; outbox (and so send_log) and
``postal_exports`` are updated so that nothing counts twice. Logs carry ids and counts only.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text

from journeyflow import settings, warehouse
from journeyflow.pipeline import StepResult, record_step
from journeyflow.postal.address import check_addresses
from journeyflow.postal.drop import deliver, open_drop
from journeyflow.postal.mailfile import mailing_names, render_mailing
from journeyflow.postal.profile import action_code, active_profile

log = logging.getLogger(__name__)

CONTACT_FIELDS = (
    "salutation", "title", "first_name", "last_name", "company", "street", "house_number",
    "postal_code", "city", "country",
)  # fmt: skip

_SELECT = text(
    f"""
    select o.outbox_id, o.contact_id, o.step, o.occurrence, o.status,
           c.contact_id is not null as known,
           {", ".join(f"c.{name}" for name in CONTACT_FIELDS)}
    from journeyflow.outbox o
    left join journeyflow.contacts c on c.contact_id = o.contact_id
    where o.channel = 'postal' and o.campaign = :campaign and o.run_date = :run_date
      and (o.status in ('queued', 'exported')
           or (o.status = 'cancelled' and exists (
                 select 1 from journeyflow.postal_rejects r
                 where r.run_date = o.run_date and r.campaign = o.campaign
                   and r.contact_id = o.contact_id)))
    order by o.contact_id, o.step, o.occurrence
    """
)


class PostalExportError(RuntimeError):
    """The export cannot go on; the message says why and what to do."""


def build_dir() -> Path:
    """Where mailing files are built before delivery: ``$JOURNEYFLOW_HOME/postal_build``."""
    return settings.home() / "postal_build"


@contextmanager
def _export_lock(run_date: date, campaign: str) -> Iterator[None]:
    """One export per campaign and date at a time (a session advisory lock)."""
    key = zlib.crc32(f"postal:{campaign}:{run_date.isoformat()}".encode()) - (1 << 31)
    with warehouse.engine().connect() as conn:
        got = conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if not got:
            raise PostalExportError(
                f"another postal export of {campaign} for {run_date} is running; retry later"
            )
        try:
            yield
        finally:
            conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def export_mailing(run_date: date, campaign: str, run_id: str) -> dict[str, Any]:
    """Build, deliver and record the postal mailing of ``campaign`` for ``run_date``.

    Returns ``{rows, rejected, file, sha256, delivered, skipped, warnings, run_id}``: pieces in
    the file, outbox rows left out, the file's path in the drop, its sha256, files transferred
    and files already in the drop. With no piece to mail, no file is written (``rows`` 0).
    """
    started = time.perf_counter()
    raw = settings.load_config().raw
    profile = active_profile(raw)
    action = action_code(raw, campaign)
    names = mailing_names(campaign, run_date)
    file_name = str(names.folder / names.csv)
    key = {"run_date": run_date, "campaign": campaign}

    with _export_lock(run_date, campaign):
        with warehouse.transaction() as conn:
            outbox = conn.execute(_SELECT, key).mappings().all()
            previous = (
                conn.execute(
                    text(
                        "select run_id, sha256, rows, delivered_at from journeyflow.postal_exports"
                        " where run_date = :run_date and campaign = :campaign"
                    ),
                    key,
                )
                .mappings()
                .first()
            )

        # one piece per contact: its first outbox row; further rows of it are left out
        outbox_ids: dict[str, int] = {}  # contact -> its first outbox row (the piece)
        known: list[dict[str, Any]] = []
        unknown: list[tuple[str, str]] = []
        repeats: list[tuple[int, str]] = []  # further rows of a contact: left out
        for row in outbox:
            if row["contact_id"] in outbox_ids:
                repeats.append((row["outbox_id"], "duplicate: contact already in this mailing"))
                continue
            outbox_ids[row["contact_id"]] = row["outbox_id"]
            if row["known"]:
                known.append(dict(row))
            else:
                unknown.append((row["contact_id"], "contact not found"))
        accepted, rejects = check_addresses(known, encoding=profile.encoding)
        rejects = sorted(rejects + unknown)

        mailing = None
        if accepted:
            run_id = previous["run_id"] if previous else run_id
            mailing = render_mailing(accepted, rejects, profile, campaign, run_date, run_id, action)
        if (
            previous
            and previous["delivered_at"]
            and (mailing is None or mailing.sha256 != previous["sha256"])
        ):
            raise PostalExportError(
                f"postal {campaign} {run_date}: {file_name} was delivered at "
                f"{previous['delivered_at']} with {previous['rows']} pieces (sha256 "
                f"{previous['sha256']}); the outbox or contact data has changed since, and "
                f"rebuilding gives {mailing.rows if mailing else 0} pieces"
                f"{f' (sha256 {mailing.sha256})' if mailing else ''}. The delivered file stands "
                "and nothing was re-sent; check the outbox rows of that date."
            )

        result: dict[str, Any] = {
            "rows": mailing.rows if mailing else 0,
            "rejected": len(rejects),
            "file": file_name if mailing else None,
            "sha256": mailing.sha256 if mailing else None,
            "delivered": 0,
            "skipped": 0,
            "warnings": [],
            "run_id": run_id if mailing else None,
        }
        if mailing is not None:
            paths = mailing.write(build_dir())
            with warehouse.transaction() as conn:
                _record_rejects(conn, run_date, campaign, rejects)
                conn.execute(
                    text(
                        """
                        insert into journeyflow.postal_exports
                            (run_date, campaign, run_id, file_name, rows, sha256)
                        values (:run_date, :campaign, :run_id, :file_name, :rows, :sha256)
                        on conflict (run_date, campaign) do update
                        set file_name = excluded.file_name, rows = excluded.rows,
                            sha256 = excluded.sha256
                        where journeyflow.postal_exports.delivered_at is null
                        """
                    ),
                    {**key, "run_id": run_id, "file_name": file_name, "rows": mailing.rows,
                     "sha256": mailing.sha256},
                )  # fmt: skip
            with open_drop() as drop:
                delivery = deliver(drop, paths, str(names.folder))
            result["delivered"] = len(delivery.delivered)
            result["skipped"] = len(delivery.skipped)
            if mailing.rows < profile.min_pieces:
                warning = (
                    f"postal {campaign} {run_date}: {mailing.rows} pieces, below the minimum of "
                    f"{profile.min_pieces} for profile {profile.name}; the file was delivered "
                    "anyway (check the vendor's rate)"
                )
                log.warning(warning)
                result["warnings"].append(warning)

        exported = [outbox_ids[row["contact_id"]] for row in accepted]
        with warehouse.transaction() as conn:
            if mailing is None:
                _record_rejects(conn, run_date, campaign, rejects)
                conn.execute(
                    text(
                        "delete from journeyflow.postal_exports where run_date = :run_date"
                        " and campaign = :campaign and delivered_at is null"
                    ),
                    key,
                )
            if exported:
                conn.execute(
                    text(
                        "update journeyflow.outbox set status = 'exported', last_error = null,"
                        " sent_at = coalesce(sent_at, now()) where outbox_id = any(:ids)"
                    ),
                    {"ids": exported},
                )
            cancel = [(outbox_ids[c], reason) for c, reason in rejects] + repeats
            if cancel:
                conn.execute(
                    text(
                        "update journeyflow.outbox set status = 'cancelled', last_error = :reason"
                        " where outbox_id = :id"
                    ),
                    [{"id": outbox_id, "reason": reason} for outbox_id, reason in cancel],
                )
            if mailing is not None:
                conn.execute(
                    text(
                        "update journeyflow.postal_exports"
                        " set delivered_at = coalesce(delivered_at, now())"
                        " where run_date = :run_date and campaign = :campaign"
                    ),
                    key,
                )
    log.info(
        "postal %s %s: %d pieces, %d rejected, %d file(s) delivered, %d already in the drop",
        campaign,
        run_date,
        result["rows"],
        result["rejected"],
        result["delivered"],
        result["skipped"],
    )
    with warehouse.transaction() as conn:
        seconds = time.perf_counter() - started
        step = StepResult(f"export_postal.{campaign}", result["rows"] + result["rejected"],
                          result["rows"], 0, seconds, dict(result))  # fmt: skip
        record_step(conn, run_date, step)
    return result


def _record_rejects(conn: Any, run_date: date, campaign: str, rejects: list) -> None:
    """Replace the rejects of (run_date, campaign) with ``rejects``."""
    conn.execute(
        text(
            "delete from journeyflow.postal_rejects"
            " where run_date = :run_date and campaign = :campaign"
        ),
        {"run_date": run_date, "campaign": campaign},
    )
    if rejects:
        conn.execute(
            text(
                "insert into journeyflow.postal_rejects (run_date, campaign, contact_id, reason)"
                " values (:run_date, :campaign, :contact_id, :reason)"
            ),
            [
                {"run_date": run_date, "campaign": campaign, "contact_id": c, "reason": r}
                for c, r in rejects
            ],
        )
