"""Export a campaign's postal mailing of a run date: build it once, record it, deliver it.

Every retry or rerun delivers exactly the stored bytes: byte-identical, whatever changed in the
contact data since, and never a second time once ``delivered_at`` is set. An export also
finishes the deliveries of earlier dates that failed, and takes postal rows still queued from
earlier dates into its file, so nothing waits for a rerun of an old date. Logs carry ids and
counts only.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

from journeyflow import progress, warehouse
from journeyflow.config import VendorProfile, config_path, load_config
from journeyflow.postal.build import (
    build,
    build_dir,
    recorded,
    take_out_objectors,
    undelivered_before,
)
from journeyflow.postal.drop import deliver, marker_delivered, open_drop
from journeyflow.postal.mailfile import Mailing, mailing_names
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)


class PostalExportError(RuntimeError):
    """The export cannot go on; the message says why and what to do."""


def export_mailing(run_date: date, campaign: str, run_id: str) -> dict[str, Any]:
    """Build (once), record and deliver the postal mailing of ``campaign`` for ``run_date``.

    Returns ``{rows, rejected, file, sha256, delivered, skipped, delivered_at, warnings, run_id,
    caught_up}``: pieces in the file, rows left out, the file's path in the drop, its sha256,
    files transferred and files already in the drop by this call, when the set was first
    delivered, and earlier dates whose delivery this call finished. With no piece to mail no
    file is built (``rows`` 0); the rejects are still recorded, and written as a local file.
    """
    started = time.perf_counter()
    postal = load_config().postal
    profile = postal.profile
    action = postal.action_code(campaign)
    _check_encodable(profile, campaign, action)
    key = {"run_date": run_date, "campaign": campaign}

    with warehouse.session_lock(f"journeyflow.postal:{campaign}") as free:
        if not free:
            raise PostalExportError(f"another postal export of {campaign} is running; retry later")
        caught_up = []  # earlier dates whose delivery failed: finished first
        for row in undelivered_before(run_date, campaign):
            if _deliver(row, profile, action)[1] is not None:
                caught_up.append(row["run_date"])
        rejects_file = None
        with progress.bar(f"export_postal.{campaign}", "pieces") as bar:
            mailing = recorded(run_date, campaign)
            if mailing is None:
                bar.note = "building the mailing file"
                rejects_file = build(run_date, campaign, run_id, profile, action)
                mailing = recorded(run_date, campaign)
            delivery = None
            if mailing is not None:
                bar.note = "delivering to the drop"
                bar.advance(mailing["rows"])
                delivery, mailing = _deliver(mailing, profile, action)
        with warehouse.transaction() as conn:
            rejected = conn.execute(statement("postal/rejects_count"), key).scalar_one()
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
            f"{config_path()}: postal.action_codes.{campaign} ({action!r}) cannot be "
            f"written in {profile.encoding}, the encoding of postal profile {profile.name}; "
            "change the code or the profile"
        ) from None


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
            conn.execute(statement("postal/marker_next"), key)

    with open_drop() as drop:  # one session: look, then deliver
        if marker_delivered(drop, str(names.folder), names.done, bytes(row["done"])):
            log.info("postal %s %s: the set is in the drop already; recording its delivery",
                     row["campaign"], row["run_date"])  # fmt: skip
            return None, record_delivery(row)
        if row["marker_at"] is not None:
            raise PostalExportError(
                f"postal {row['campaign']} {row['run_date']}: the export stopped while putting "
                f"the .done marker of {names.folder} into the drop, and it is not there now: "
                "either that upload failed or the vendor has already taken the set. Ask the "
                f"vendor, then run `journeyflow postal --date {row['run_date']} --campaign "
                f"{row['campaign']} --resolve delivered` (they have it) or `--resolve resend`."
            )
        if take_out_objectors(row):
            build(row["run_date"], row["campaign"], row["run_id"], profile, action)
            rebuilt = recorded(row["run_date"], row["campaign"])
            if rebuilt is None:
                return None, None
            row = rebuilt
        mailing = Mailing(names, bytes(row["csv"]), bytes(row["manifest"]),
                          bytes(row["rejects_file"]), bytes(row["done"]), row["rows"],
                          0)  # fmt: skip
        paths = mailing.write(build_dir())
        delivery = deliver(drop, paths, str(names.folder), before_marker=marker_next)
    return delivery, record_delivery(row)


def record_delivery(row: dict[str, Any]) -> dict[str, Any]:
    """The mailing ``row`` is in the drop: keep when it first got there."""
    with warehouse.transaction() as conn:
        row["delivered_at"] = conn.execute(
            statement("postal/record_delivery"),
            {"run_date": row["run_date"], "campaign": row["campaign"]},
        ).scalar_one()
    return row


def resolve(run_date: date, campaign: str, outcome: str) -> int:
    """Settle a mailing whose marker upload was in doubt: ``delivered`` (the vendor has it) or
    ``resend`` (deliver it again with the next export). Returns the rows changed (0 or 1)."""
    settle = {"delivered": "postal/resolve_delivered", "resend": "postal/resolve_resend"}
    if outcome not in settle:
        raise ValueError(f"outcome must be delivered or resend, not {outcome!r}")
    with warehouse.transaction() as conn:
        return conn.execute(
            statement(settle[outcome]), {"run_date": run_date, "campaign": campaign}
        ).rowcount


def mailings(run_date: date | None = None) -> list[dict[str, Any]]:
    """The recorded mailings (of one date, or all), newest first, without their bytes."""
    with warehouse.transaction() as conn:
        rows = conn.execute(statement("postal/list_mailings"), {"run_date": run_date})
        return [dict(r) for r in rows.mappings()]
