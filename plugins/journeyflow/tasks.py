"""Airflow glue for ``journeyflow_nightly``: the run date, the campaign task groups, callbacks.

Light at import (the DAG file imports it while the scheduler parses): every journeyflow module
that does the work is imported inside the task that needs it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

log = logging.getLogger(__name__)


def run_date(context: dict[str, Any] | None = None) -> date:
    """Logical date D of the running task's run, as a calendar day in the configured timezone."""
    from journeyflow.config import load_config

    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    logical: datetime | None = context.get("logical_date")
    if logical is None:  # a run without logical date (manual trigger in some UIs): use run_after
        logical = context["dag_run"].run_after
    return logical.astimezone(load_config().tz).date()


def on_run_failure(context: dict[str, Any]) -> None:
    """DAG failure callback: mark D failed in pipeline_runs (best effort, never raises)."""
    try:
        from journeyflow.runlog import finish_run

        ti = context.get("ti") or context.get("task_instance")
        reason = f"task {ti.task_id} failed" if ti else "run failed"
        finish_run(run_date(context), "failed", reason)
    except Exception:  # a callback must not hide the original failure
        log.exception("could not record the failed run")


def send_campaign(campaign: str) -> dict:
    """``<campaign>.send``: send the campaign's queued emails (run dates up to D)."""
    from journeyflow.email.sender import send

    return send(campaign, run_date()).as_dict()


def export_postal(campaign: str) -> dict:
    """``<campaign>.export_postal``: build, record and deliver the campaign's mailing of D."""
    from airflow.sdk import get_current_context

    from journeyflow.postal.export import export_mailing

    context = get_current_context()
    return export_mailing(run_date(context), campaign, context["run_id"])


def campaign_groups() -> list:
    """One task group per campaign of ``campaigns.list``: ``send`` for email, ``export_postal``
    for letters. ``choose_campaigns`` picks the groups with work."""
    from airflow.sdk import TaskGroup, task

    from journeyflow.config import load_config
    from journeyflow.states import Channel

    groups = []
    for spec in load_config().campaigns.campaigns:
        with TaskGroup(group_id=spec.name, tooltip=f"campaign {spec.name}") as group:
            if Channel.EMAIL in spec.channels:
                task(task_id="send")(send_campaign)(spec.name)
            if Channel.POSTAL in spec.channels:
                task(task_id="export_postal")(export_postal)(spec.name)
        groups.append(group)
    return groups
