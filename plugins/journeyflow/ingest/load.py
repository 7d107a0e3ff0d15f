"""Load: finish the staged batch across streams before the quality gate looks at it."""

from __future__ import annotations

import time
from datetime import date

from journeyflow import erasure, warehouse
from journeyflow.ingest.streams import STREAMS
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement


def load(run_date: date) -> StepResult:
    """Every stream must be staged for D. Out of the batch go: people forgotten earlier (never
    stored again), events whose contact is unknown and identifies that would give an anonymous
    visitor a second contact (both to quarantine)."""
    result = StepResult("load")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        batch = {row.stream: row for row in conn.execute(statement("ingest/staged_batch"))}
        missing = [s for s in STREAMS if s not in batch or batch[s].run_date != run_date]
        if missing:
            raise RuntimeError(
                f"staging holds no extract of {', '.join(missing)} for {run_date}; "
                "clear the extract tasks of this run so they run again"
            )
        erased = erasure.exclude_staged(conn, run_date)
        orphans = conn.execute(statement("ingest/quarantine_orphans"), {"d": run_date}).scalar_one()
        conflicts = conn.execute(
            statement("ingest/quarantine_conflicts"), {"d": run_date}
        ).scalar_one()
        counts = conn.execute(statement("ingest/staged_counts")).one()
        result.rows_in = sum(b.staged for b in batch.values())
        result.rows_out = counts.contacts + counts.events
        result.quarantined = erased + orphans + conflicts
        result.details = {
            "contacts": counts.contacts, "events": counts.events,
            "anonymous_events": counts.anonymous_events, "erased_again": erased,
            "unknown_contact": orphans, "identify_conflicts": conflicts,
        }  # fmt: skip
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result
