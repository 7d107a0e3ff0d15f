"""Campaign decisions as of D, in SQL: who gets which step of which campaign today, or why not.

Each campaign in ``journeyflow.yaml`` (``campaigns.list``) names its audience query
``sql/campaigns/<name>.sql``. The query returns ``contact_id`` and optionally ``channel``,
``anchor_at`` (what step delays count from) and ``excluded`` (a reason, or null). This module adds
the rules every campaign shares: email consent and suppressions, steps and delays, repeat windows
and the global caps. Every candidate gets one row in ``journeyflow.campaign_decisions``; the queued
ones go to the outbox with their rendered message in the same transaction (see
``journeyflow.email.enqueue``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import progress, states, warehouse
from journeyflow.campaigns.audience import add_candidates, campaign_names
from journeyflow.config import Config, load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import read, statement
from journeyflow.states import Channel

log = logging.getLogger(__name__)


class StaleFactsError(RuntimeError):
    """The contact facts are of another run date than the one being decided."""


@dataclass
class Plan:
    """What a run of D decided, per campaign: queued/held/excluded counts and reasons."""

    run_date: date
    counts: dict[str, Counter] = field(default_factory=dict)  # campaign -> decision -> n
    reasons: dict[str, Counter] = field(default_factory=dict)  # campaign -> "decision: why" -> n

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(),
            "campaigns": {
                c: {"decisions": dict(self.counts[c]), "reasons": dict(self.reasons[c])}
                for c in self.counts
            },
        }


def _campaign_params(cfg: Config, d: date) -> dict[str, Any]:
    camp = [
        {
            "campaign": c.name,
            "anchored": c.anchor is not None,
            "repeat_days": c.repeat_days,
            "delays": [delay for _, delay in c.steps],
            "holdout_buckets": c.holdout_buckets,
            "variants": {str(step): c.variant_ranges(step) for step, _ in c.steps},
        }
        for c in cfg.campaigns.campaigns
    ]
    return {
        "campaigns": json.dumps(camp),
        "d": d,
        "done": list(states.DONE),
        "in_flight": list(states.IN_FLIGHT),
        "capped": list(states.CAPPED),
        "out": list(states.OUT),
        "repeat": list(states.REPEAT),
        "per_run_date": cfg.campaigns.per_run_date,
        "per_week": cfg.campaigns.per_week,
        "per_week_days": 7,
    }


def _decide(conn: Connection, d: date) -> None:
    """Fill the temp table ``decided`` for D (one row per candidate and campaign)."""
    cfg = load_config()
    conn.exec_driver_sql("set local work_mem = '256MB'")
    for table in ("cand", "out_today", "decided"):
        conn.exec_driver_sql(f"drop table if exists pg_temp.{table}")
    conn.execute(statement("decisions/cand_table"))
    with progress.bar("decide_campaigns", "audiences", total=len(cfg.campaigns.campaigns)) as bar:
        for priority, campaign in enumerate(cfg.campaigns.campaigns):
            add_candidates(conn, campaign, priority, d)
            bar.advance()
        bar.note = f"{conn.exec_driver_sql('select count(*) from cand').scalar():,} candidates"
        bar.advance(0)
    conn.exec_driver_sql("analyze cand")
    conn.execute(statement("decisions/out_today_table"), {"d": d, "out": list(states.OUT)})
    conn.exec_driver_sql("analyze out_today")
    conn.execute(statement("decisions/decided_table"))
    conn.execute(
        text(
            "insert into decided (contact_id, campaign, step, channel, decision, reason, variant) "
            + read("decisions/decide")
        ),
        _campaign_params(cfg, d),
    )
    conn.execute(statement("decisions/occurrence"), {"d": d})
    conn.exec_driver_sql("analyze decided")


def _plan_from(conn: Connection, d: date) -> Plan:
    plan = Plan(d)
    for name in campaign_names():
        plan.counts[name] = Counter()
        plan.reasons[name] = Counter()
    rows = conn.execute(statement("decisions/plan")).all()
    for campaign, channel, decision, reason, n in rows:
        key = decision if channel == Channel.EMAIL else f"{decision} ({channel})"
        plan.counts[campaign][key] += n
        plan.reasons[campaign][f"{key}: {reason_kind(reason)}"] += n
    return plan


def reason_kind(reason: str) -> str:
    """A reason without its dates and numbers, so that equal reasons add up in a plan."""
    kind = re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", reason)
    return re.sub(r"\b(step|cap:) \d+", r"\1 n", kind).replace("<date>..<date>", "D-6..D-1")


def plan(d: date) -> Plan:
    """Decide D without keeping anything: what each campaign would send, hold and exclude."""
    engine = warehouse.engine()
    with engine.connect() as conn:
        try:
            _decide(conn, d)
            return _plan_from(conn, d)
        finally:
            conn.rollback()


def decide(d: date) -> StepResult:
    """Decide D and queue the messages: decisions, outbox rows and rendered messages, atomically.

    A rerun of D recomputes the same decisions from the outbox before D; rows already queued for
    D keep their state (a sent one stays sent), rows the rerun no longer chooses are cancelled.
    """
    from journeyflow.email.enqueue import enqueue

    result = StepResult("decide_campaigns")
    started = time.perf_counter()
    d_ = {"d": d}
    with warehouse.transaction() as conn:
        facts_of = conn.execute(statement("lifecycle/facts_of")).scalar()
        if facts_of is not None and facts_of != d:
            raise StaleFactsError(
                f"the contact facts and phases are of {facts_of}, not {d}: decisions for {d} "
                f"need them as of {d}; run the whole date again (score and assign_phases first)"
            )
        _decide(conn, d)
        conn.execute(statement("decisions/forget_run"), d_)
        conn.execute(statement("decisions/keep"), d_)
        conn.execute(statement("decisions/keep_handed_out"), {**d_, "out": list(states.OUT)})
        conn.execute(statement("decisions/forget_counts"), d_)
        conn.execute(statement("decisions/keep_counts"), d_)
        oldest = {"oldest": d - timedelta(days=load_config().campaigns.keep_decisions_days)}
        pruned = conn.execute(statement("decisions/prune"), oldest).rowcount
        conn.execute(statement("decisions/prune_counts"), oldest)
        queued = enqueue(conn, d)
        plan_ = _plan_from(conn, d)
        result.rows_in = sum(sum(c.values()) for c in plan_.counts.values())
        result.rows_out = queued
        result.details = {"campaigns": plan_.as_dict()["campaigns"], "decisions_pruned": pruned}
        result.seconds = time.perf_counter() - started
        record_step(conn, d, result)
    log.info("decisions for %s: %d candidates, %d queued", d, result.rows_in, queued)
    return result


def decisions_for(contact_id: str, d: date | None = None) -> list[dict[str, Any]]:
    """The campaign decisions of one contact (at D, or its latest run date)."""
    with warehouse.transaction() as conn:
        if d is None:
            d = conn.execute(statement("decisions/contact_last_run"), {"c": contact_id}).scalar()
        if d is None:
            return []
        rows = conn.execute(statement("decisions/contact_decisions"), {"c": contact_id, "d": d})
        return [dict(r) for r in rows.mappings()]
