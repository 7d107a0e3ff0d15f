"""Campaign audiences: ``sql/campaigns/<name>.sql`` per campaign of ``campaigns.list``.

The query returns ``contact_id`` and optionally ``channel``, ``anchor_at`` (what step delays
count from) and ``excluded`` (a reason, or null). It may use the rulebook's parameters
(``:run_date``, ``:cutoff``, every number of ``rules``) and the campaign's ``:days_before``.
The statement that collects every audience into the temp table ``cand`` is built around the file
here.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from journeyflow.config import Campaign, load_config
from journeyflow.sqlfile import statement
from journeyflow.states import Channel


class AudienceError(RuntimeError):
    """An audience query in sql/campaigns/ failed; the message names the file."""


def campaign_names() -> tuple[str, ...]:
    """The campaigns of ``campaigns.list``, in priority order."""
    return tuple(c.name for c in load_config().campaigns.campaigns)


def audience_sql(campaign: Campaign) -> str:
    return campaign.audience_file.read_text(encoding="utf-8").strip().rstrip(";")


def add_candidates(conn: Connection, campaign: Campaign, priority: int, d: date) -> None:
    """Insert the campaign's audience as of D into the temp table ``cand``."""
    sql = audience_sql(campaign)
    where = f"sql/campaigns/{campaign.name}.sql"
    params = {**load_config().rule_params(d), "days_before": campaign.days_before}
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
        # CREATE TABLE AS may read the audience with parallel workers, INSERT ... SELECT never
        conn.exec_driver_sql("drop table if exists pg_temp.audience")
        conn.execute(
            text(
                "create temp table audience on commit drop as select "
                "cast(:priority as integer) as priority, cast(:campaign as text) as campaign, "
                f"a.contact_id, {channel} as channel, {anchor} as anchor_at, "
                f"{excluded} as excluded from ({sql}) a"
            ),
            {**params, "priority": priority, "campaign": campaign.name},
        )
        conn.exec_driver_sql("insert into cand select * from pg_temp.audience")
        conn.exec_driver_sql("drop table pg_temp.audience")
    except DBAPIError as exc:
        raise AudienceError(f"{where}: {str(exc.orig).strip().splitlines()[0]}") from exc
    odd = conn.execute(
        statement("decisions/unknown_channels"),
        {"campaign": campaign.name, "known": [c.value for c in Channel]},
    ).first()
    if odd is not None:
        raise AudienceError(
            f"{where}: returns channel {odd.channel!r} for {odd.contacts} contact(s); a channel "
            f"is {' or '.join(c.value for c in Channel)} (or null when none reaches the contact)"
        )
