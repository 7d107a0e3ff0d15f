"""Airflow glue for ``journeyflow_nightly``: the run date, the run lock, the campaign task groups,
timeouts and callbacks.

Light at import (the DAG file imports it while the scheduler parses): every journeyflow module
that does the work is imported inside the task that needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
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


@contextmanager
def step_of_run() -> Iterator[date]:
    """D of the running task, while the task shares the run lock with the other tasks (a CLI
    run, which holds it alone, is waited for up to ``run.lock_wait_minutes``, then the task
    fails naming it)."""
    from airflow.sdk import get_current_context

    from journeyflow import progress
    from journeyflow.config import load_config
    from journeyflow.runlog import run_lock

    context = get_current_context()
    d = run_date(context)
    who = f"task {context['ti'].task_id} of"
    with run_lock(d, load_config().run.lock_wait_minutes, shared=True, who=who):
        progress.step_started(context["ti"].task_id)
        yield d


def default_args() -> dict[str, Any]:
    """Owner, retries (``run.task_retries``, ``run.retry_delay_minutes``) and the failure
    callback of every task."""
    from journeyflow.config import load_config

    run = load_config().run
    return {
        "owner": "marketing-data",
        "retries": run.task_retries,
        "retry_delay": timedelta(minutes=run.retry_delay_minutes),
        "on_failure_callback": on_task_failure,
    }


def apply_timeouts(dag: Any) -> Any:
    """Every task gets ``run.task_timeout_minutes`` (or its own ``run.task_timeouts``)."""
    from journeyflow.config import ConfigError, config_path, load_config

    run = load_config().run
    unknown = sorted(set(run.task_timeouts) - set(dag.task_ids))
    if unknown:
        raise ConfigError(
            f"{config_path()}: run.task_timeouts names {', '.join(unknown)}, which "
            f"{'is not a task' if len(unknown) == 1 else 'are not tasks'} of {dag.dag_id}; "
            f"its tasks: {', '.join(sorted(dag.task_ids))}"
        )
    for task in dag.tasks:
        task.execution_timeout = timedelta(minutes=run.timeout_minutes(task.task_id))
    return dag


def on_task_failure(context: dict[str, Any]) -> None:
    """A task failed for good: the run failed at that step, with its error; then the alert
    (never raises)."""
    try:
        from journeyflow.email.transport import scrub
        from journeyflow.runlog import fail_step

        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception") or "failed"
        fail_step(run_date(context), ti.task_id if ti else "a task", scrub(str(error)))
    except Exception:  # a callback must not hide the original failure
        log.exception("could not record the failed step")
    alert_failed_run(context)


def alert_failed_run(context: dict[str, Any]) -> None:
    """Tell the people in ``alerts.to`` and the chat webhook that the night failed (never
    raises). A task's failure callback, not the DAG's: it runs where the task ran and looks up
    connections the way tasks do. The DAG's callback runs inside the scheduler's own
    metadata session, which a connection lookup from there could disturb."""
    try:
        from journeyflow.notify import alerts

        alerts.failed_run(run_date(context))
    except Exception:
        log.exception("could not send the alert of the failed run")


def on_run_failure(context: dict[str, Any]) -> None:
    """DAG failure callback: mark D failed in pipeline_runs (best effort, never raises)."""
    try:
        from journeyflow.runlog import fail_run

        fail_run(run_date(context), str(context.get("reason") or "run failed"))
    except Exception:  # a callback must not hide the original failure
        log.exception("could not record the failed run")


def send_campaign(campaign: str, shard: int) -> dict:
    """``<campaign>.send`` (mapped over ``sender.shards``): shard ``shard`` sends the campaign's
    queued emails (run dates up to D) beside the other shards."""
    from journeyflow.email.sender import send

    with step_of_run() as d:
        return send(campaign, d, shard).as_dict()


def export_postal(campaign: str) -> dict:
    """``<campaign>.export_postal``: build, record and deliver the campaign's mailing of D."""
    from airflow.sdk import get_current_context

    from journeyflow.postal.export import export_mailing

    with step_of_run() as d:
        return export_mailing(d, campaign, get_current_context()["run_id"])


def campaign_groups(only: list[str] | None = None) -> list:
    """One task group per campaign of ``campaigns.list`` (or of ``only``): ``send`` for email,
    mapped over ``sender.shards``, and ``export_postal`` for letters. ``choose_campaigns`` picks
    the groups with work."""
    from airflow.sdk import TaskGroup, task

    from journeyflow.config import load_config
    from journeyflow.states import Channel

    cfg = load_config().campaigns
    shards = list(range(cfg.sender.shards))
    groups = []
    for spec in cfg.campaigns:
        if only is not None and spec.name not in only:
            continue
        with TaskGroup(group_id=spec.name, tooltip=f"campaign {spec.name}") as group:
            if Channel.EMAIL in spec.channels:
                task(task_id="send")(send_campaign).partial(campaign=spec.name).expand(shard=shards)
            if Channel.POSTAL in spec.channels:
                task(task_id="export_postal")(export_postal)(spec.name)
        groups.append(group)
    return groups
