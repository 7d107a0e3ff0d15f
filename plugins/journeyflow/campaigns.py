"""Campaign decisions as of D, in SQL: who gets which step of which campaign today, or why not.

Each campaign in ``journeyflow.yaml`` (``campaigns.list``) names its audience query
``sql/campaigns/<name>.sql``. The query returns ``contact_id`` and optionally ``channel``,
``anchor_at`` (what step delays count from) and ``excluded`` (a reason, or null). This module adds
the rules every campaign shares: email consent and suppressions, steps and delays, repeat windows
and the global caps. Every candidate gets one row in ``journeyflow.campaign_decisions``; the queued
ones go to the outbox with their rendered message in the same transaction (see ``outbox``).
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
from sqlalchemy.exc import DBAPIError

from journeyflow import settings, warehouse
from journeyflow.pipeline import StepResult, record_step

log = logging.getLogger(__name__)

# Outbox states: a step is done (not tried again) once sent, exported, covered by a household
# member's letter, in doubt, bounced or given up; it is in flight while waiting. Caps count the
# messages (emails and letters) a contact got or will get; repeat windows count households too.
DONE = ("sent", "exported", "household", "in_doubt", "bounced", "failed")
IN_FLIGHT = ("queued", "claimed", "sending")
CAPPED = ("sent", "exported", "in_doubt", "queued", "claimed", "sending")
REPEAT = (*CAPPED, "household")
OUT = tuple(s for s in CAPPED if s != "queued")  # handed out: a rerun of the date keeps them


class AudienceError(RuntimeError):
    """An audience query in sql/campaigns/ failed; the message names the file."""


class StaleFactsError(RuntimeError):
    """The contact facts are of another run date than the one being decided."""


def campaign_names() -> tuple[str, ...]:
    return tuple(c.name for c in settings.load_config().campaigns.campaigns)


def audience_sql(campaign: settings.Campaign) -> str:
    return campaign.audience_file.read_text(encoding="utf-8").strip().rstrip(";")


def _candidates(conn: Connection, campaign: settings.Campaign, priority: int, d: date) -> None:
    """Insert the campaign's audience into the temp table ``cand``."""
    sql = audience_sql(campaign)
    where = f"sql/campaigns/{campaign.name}.sql"
    params = {**settings.load_config().rule_params(d)}
    try:
        cols = set(conn.execute(text(f"select * from ({sql}) a limit 0"), params).keys())
        if "contact_id" not in cols:
            raise AudienceError(f"{where}: the query must return a contact_id column")
        if "anchor_at" not in cols and campaign.anchor is None and campaign.steps[-1][1] > 0:
            raise AudienceError(
                f"{where}: campaigns.list.{campaign.name} has steps after day 0 "
                f"({[d for _, d in campaign.steps]}) but nothing to count the days from; set "
                "its anchor in journeyflow.yaml or return an anchor_at column"
            )
        channel = "a.channel" if "channel" in cols else f"'{campaign.channels[0]}'"
        anchor = "a.anchor_at" if "anchor_at" in cols else "cast(null as timestamptz)"
        excluded = "a.excluded" if "excluded" in cols else "cast(null as text)"
        conn.execute(
            text(
                f"insert into cand select :priority, :campaign, a.contact_id, {channel}, "
                f"{anchor}, {excluded} from ({sql}) a"
            ),
            {**params, "priority": priority, "campaign": campaign.name},
        )
    except DBAPIError as exc:
        raise AudienceError(f"{where}: {str(exc.orig).strip().splitlines()[0]}") from exc


DECIDE_SQL = """
with camp as (
    select * from jsonb_to_recordset(cast(:campaigns as jsonb)) as x(
        campaign text, anchored boolean, repeat_days integer, delays integer[])
),

hist as (  -- the outbox before D: what each contact got from each campaign
    select contact_id, campaign, step, occurrence, run_date, status
    from journeyflow.outbox
    where run_date < :d
),

per_campaign as (
    select
        h.contact_id,
        h.campaign,
        max(h.run_date) filter (where h.status = any(:repeat)) as last_run_date,
        array_agg(distinct h.step) filter (where h.status = any(:done)) as done_steps,
        min(h.step) filter (where h.status = any(:in_flight)) as waiting_step,
        min(h.run_date) filter (where h.status = any(:in_flight)) as waiting_since
    from hist h
    group by h.contact_id, h.campaign
),

week as (  -- campaign messages (emails and letters) in the run dates D-6..D-1
    select contact_id, count(*) as messages
    from journeyflow.outbox
    where status = any(:capped)
      and run_date between cast(:d as date) - (:per_week_days - 1) and cast(:d as date) - 1
    group by contact_id
),

others_today as (  -- ... for campaigns that no longer have the contact as a candidate
    select o.contact_id, sum(o.n) as n
    from out_today o  -- a temp table: messages of D that an earlier run of D handed out
    where not exists (
        select 1 from cand c where c.contact_id = o.contact_id and c.campaign = o.campaign
    )
    group by o.contact_id
),

base as (
    select
        c.priority, c.campaign, c.contact_id, c.channel, c.excluded, f.email_ok, f.email_block,
        m.anchored, m.repeat_days, m.delays,
        coalesce(cast(c.anchor_at as date), cast(:d as date)) as anchor_date,
        c.anchor_at is null and m.anchored as no_anchor,
        pc.last_run_date, pc.waiting_step, pc.waiting_since, ot.step as handed_step,
        case
            when m.repeat_days is not null then 1
            else (select min(s) from generate_series(1, cardinality(m.delays)) s
                  where not s = any(coalesce(pc.done_steps, '{}')))
        end as next_step
    from cand c
    join camp m using (campaign)
    left join journeyflow.contact_facts f using (contact_id)
    left join per_campaign pc using (contact_id, campaign)
    left join out_today ot using (contact_id, campaign)
),

judged as (
    select
        b.*,
        case when b.next_step is not null
             then b.anchor_date + b.delays[b.next_step] end as due_date,
        case
            when b.excluded is not null then b.excluded
            when b.channel is null then 'no channel reaches this contact'
            when b.channel = 'email' and not coalesce(b.email_ok, false)
                then coalesce(b.email_block, 'email not allowed')
            when b.no_anchor then 'no start date for the steps'
            when b.next_step is null then 'received every step already (once per contact)'
        end as exclusion,
        case
            when b.waiting_step is not null then
                'step ' || b.waiting_step || ' of ' || b.waiting_since
                || ' is still waiting to be sent'
            when b.repeat_days is not null
                 and b.last_run_date > cast(:d as date) - b.repeat_days then
                'repeat window: last sent ' || b.last_run_date || ', again from '
                || (b.last_run_date + b.repeat_days)
        end as waiting
    from base b
),

ranked as (  -- the due steps of a contact compete for the caps: what a run of D already
              -- handed out first, then in campaign order
    select
        j.*,
        row_number() over w as cap_rank,
        first_value(j.campaign) over w as first_campaign,
        coalesce(x.n, 0) as others_today
    from judged j
    left join others_today x using (contact_id)
    window w as (
        partition by j.contact_id,
            j.handed_step is not null
            or (j.exclusion is null and j.waiting is null and j.due_date <= :d)
        order by j.handed_step is null, j.priority, j.next_step
    )
)

select
    j.contact_id, j.campaign, coalesce(j.handed_step, j.next_step, 1) as step,
    coalesce(j.channel, 'email'),
    case
        when j.handed_step is not null then 'queued'  -- handed out by a run of D: it stands
        when j.exclusion is not null then 'excluded'
        when j.waiting is not null or j.due_date > :d then 'held'
        when j.cap_rank <= greatest(0, least(:per_run_date, :per_week - coalesce(w.messages, 0))
                                 - j.others_today)
            then 'queued'
        else 'held'
    end as decision,
    case
        when j.handed_step is not null then 'due: step ' || j.handed_step
        when j.exclusion is not null then j.exclusion
        when j.waiting is not null then j.waiting
        when j.due_date > :d then 'step ' || j.next_step || ' is due on ' || j.due_date
        when j.cap_rank <= greatest(0, least(:per_run_date, :per_week - coalesce(w.messages, 0))
                                 - j.others_today)
            then 'due: step ' || j.next_step
        when coalesce(w.messages, 0) >= :per_week then
            'cap: ' || w.messages || ' campaign messages in the run dates '
            || (cast(:d as date) - (:per_week_days - 1)) || '..' || (cast(:d as date) - 1)
        when j.others_today > 0 then
            'cap: ' || :per_run_date || ' campaign message per run date; one went out earlier '
            || 'on this date'
        else 'cap: ' || :per_run_date || ' campaign message per run date; '
            || j.first_campaign || ' goes first'
    end as reason
from ranked j
left join week w using (contact_id)
"""

OCCURRENCE_SQL = """
update decided d set occurrence = coalesce((
    select max(o.occurrence) from journeyflow.outbox o
    where o.contact_id = d.contact_id and o.campaign = d.campaign and o.step = d.step
      and o.run_date < :d
), 0) + 1
where d.decision = 'queued'
"""


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


def _campaign_params(cfg: settings.Config, d: date) -> dict[str, Any]:
    camp = [
        {
            "campaign": c.name,
            "anchored": c.anchor is not None,
            "repeat_days": c.repeat_days,
            "delays": [delay for _, delay in c.steps],
        }
        for c in cfg.campaigns.campaigns
    ]
    return {
        "campaigns": json.dumps(camp),
        "d": d,
        "done": list(DONE),
        "in_flight": list(IN_FLIGHT),
        "capped": list(CAPPED),
        "out": list(OUT),
        "repeat": list(REPEAT),
        "per_run_date": cfg.campaigns.per_run_date,
        "per_week": cfg.campaigns.per_week,
        "per_week_days": 7,
    }


def _decide(conn: Connection, d: date) -> None:
    """Fill the temp table ``decided`` for D (one row per candidate and campaign)."""
    cfg = settings.load_config()
    conn.exec_driver_sql("set local work_mem = '256MB'")
    conn.exec_driver_sql("drop table if exists pg_temp.cand")
    conn.exec_driver_sql(
        'create temp table cand (priority integer, campaign text, contact_id text collate "C", '
        "channel text, anchor_at timestamptz, excluded text) on commit drop"
    )
    for priority, campaign in enumerate(cfg.campaigns.campaigns):
        _candidates(conn, campaign, priority, d)
    conn.exec_driver_sql("analyze cand")
    conn.exec_driver_sql("drop table if exists pg_temp.out_today")
    conn.execute(  # a table, analyzed: on a rerun it can hold a million rows
        text(
            'create temp table out_today on commit drop as select contact_id collate "C", '
            "campaign, min(step) as step, count(*) as n from journeyflow.outbox "
            "where run_date = :d and status = any(:out) group by contact_id, campaign"
        ),
        {"d": d, "out": list(OUT)},
    )
    conn.exec_driver_sql("analyze out_today")
    conn.exec_driver_sql("drop table if exists pg_temp.decided")
    conn.execute(
        text(
            'create temp table decided (contact_id text collate "C", campaign text, '
            "step integer, channel text, decision text, reason text, occurrence integer) "
            "on commit drop"
        )
    )
    conn.execute(
        text(
            "insert into decided (contact_id, campaign, step, channel, decision, reason) "
            + DECIDE_SQL
        ),
        _campaign_params(cfg, d),
    )
    conn.execute(text(OCCURRENCE_SQL), {"d": d})
    conn.exec_driver_sql("analyze decided")


def _plan_from(conn: Connection, d: date) -> Plan:
    plan = Plan(d)
    for name in campaign_names():
        plan.counts[name] = Counter()
        plan.reasons[name] = Counter()
    rows = conn.exec_driver_sql(
        "select campaign, channel, decision, reason, count(*) from decided "
        "group by 1, 2, 3, 4 order by 1, 3, 5 desc"
    ).all()
    for campaign, channel, decision, reason, n in rows:
        key = decision if channel == "email" else f"{decision} ({channel})"
        plan.counts[campaign][key] += n
        plan.reasons[campaign][f"{key}: {_reason_kind(reason)}"] += n
    return plan


def _reason_kind(reason: str) -> str:
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
    from journeyflow import outbox

    result = StepResult("decide_campaigns")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        facts_of = conn.execute(
            text("select max(run_date) from journeyflow.contact_facts")
        ).scalar()
        if facts_of is not None and facts_of != d:
            raise StaleFactsError(
                f"the contact facts and phases are of {facts_of}, not {d}: decisions for {d} "
                f"need them as of {d}; run the whole date again (score and assign_phases first)"
            )
        _decide(conn, d)
        conn.execute(
            text("delete from journeyflow.campaign_decisions where run_date = :d"), {"d": d}
        )
        conn.execute(
            text(
                "insert into journeyflow.campaign_decisions "
                "select :d, contact_id, campaign, step, channel, decision, reason, occurrence "
                "from decided"
            ),
            {"d": d},
        )
        conn.execute(  # what a run of D handed out stays in its decisions, chosen or not
            text(
                """
                insert into journeyflow.campaign_decisions
                select :d, o.contact_id, o.campaign, o.step, o.channel, 'queued',
                       'due: step ' || o.step || ' (decided by an earlier run of this date)',
                       o.occurrence
                from journeyflow.outbox o
                where o.run_date = :d and o.status = any(:out)
                on conflict do nothing
                """
            ),
            {"d": d, "out": list(OUT)},
        )
        keep = settings.load_config().campaigns.keep_decisions_days
        pruned = conn.execute(
            text("delete from journeyflow.campaign_decisions where run_date < :oldest"),
            {"oldest": d - timedelta(days=keep)},
        ).rowcount
        queued = outbox.enqueue(conn, d)
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
            d = conn.execute(
                text(
                    "select max(run_date) from journeyflow.campaign_decisions where contact_id = :c"
                ),
                {"c": contact_id},
            ).scalar()
        if d is None:
            return []
        rows = conn.execute(
            text(
                "select run_date, campaign, step, channel, decision, reason "
                "from journeyflow.v_campaign_decisions where contact_id = :c and run_date = :d "
                "order by campaign"
            ),
            {"c": contact_id, "d": d},
        ).mappings()
        return [dict(r) for r in rows]


def pending(d: date) -> dict[str, dict[str, int]]:
    """Messages waiting in the outbox per campaign and channel (any run date up to D), and
    postal mailings of those dates still to be delivered."""
    with warehouse.transaction() as conn:
        rows = conn.execute(
            text(
                "select campaign, channel, count(*) from journeyflow.outbox "
                "where run_date <= :d and (status in ('queued', 'claimed', 'sending') "
                "or (channel = 'postal' and run_date = :d)) group by 1, 2 "
                "union all "
                "select campaign, 'postal', count(*) from journeyflow.postal_exports "
                "where run_date <= :d and delivered_at is null group by 1"
            ),
            {"d": d},
        ).all()
    out: dict[str, dict[str, int]] = {}
    for campaign, channel, n in rows:
        counts = out.setdefault(campaign, {})
        counts[channel] = counts.get(channel, 0) + n
    return out


def choose(d: date) -> list[str]:
    """Task ids of the campaign groups with work for D; ``no_campaigns`` when there is none."""
    work = pending(d)
    log.info("outbox for %s: %s", d, work)
    chosen = []
    for name in campaign_names():
        channels = work.get(name, {})
        if channels.get("email"):
            chosen.append(f"{name}.send")
        if channels.get("postal"):
            chosen.append(f"{name}.export_postal")
    return chosen or ["no_campaigns"]
