"""Airflow glue: run date from the context, step results to XCom, run status callbacks.

The DAG file wires these; the work itself is in ``journeyflow.pipeline``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

log = logging.getLogger(__name__)


def run_date(context: dict[str, Any]) -> date:
    """Logical date D of the run, as a calendar day in the configured timezone."""
    from journeyflow import settings

    logical: datetime | None = context.get("logical_date")
    if logical is None:  # a run without logical date (manual trigger in some UIs): use run_after
        logical = context["dag_run"].run_after
    return logical.astimezone(settings.load_config().tz).date()


def on_run_failure(context: dict[str, Any]) -> None:
    """DAG failure callback: mark D failed in pipeline_runs (best effort, never raises)."""
    try:
        from journeyflow import pipeline

        ti = context.get("ti") or context.get("task_instance")
        reason = f"task {ti.task_id} failed" if ti else "run failed"
        pipeline.finish_run(run_date(context), "failed", reason)
    except Exception:  # a callback must not hide the original failure
        log.exception("could not record the failed run")
