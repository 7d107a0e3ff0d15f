"""Which campaign tasks have work for D: the branch after the decisions."""

from __future__ import annotations

import logging
from datetime import date

from journeyflow import warehouse
from journeyflow.campaigns.audience import campaign_names
from journeyflow.sqlfile import statement
from journeyflow.states import Channel

log = logging.getLogger(__name__)


def pending(d: date) -> dict[str, dict[str, int]]:
    """Messages waiting in the outbox per campaign and channel (any run date up to D), and
    postal mailings of those dates still to be delivered."""
    with warehouse.transaction() as conn:
        rows = conn.execute(statement("decisions/pending"), {"d": d}).all()
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
        if channels.get(Channel.EMAIL):
            chosen.append(f"{name}.send")
        if channels.get(Channel.POSTAL):
            chosen.append(f"{name}.export_postal")
    return chosen or ["no_campaigns"]
