"""Campaign audiences (``sql/campaigns/<campaign>.sql``) and the branch that picks campaigns.

Sending is not built yet: each campaign's task group counts its audience and records it, so the
branching is real and marketing ops sees in the UI which campaigns would run.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import text

from journeyflow import settings, warehouse

log = logging.getLogger(__name__)

CAMPAIGNS = (
    "welcome_drip", "tripwire_offer", "onboarding_tips", "upsell", "testimonial_request",
    "win_back_email", "win_back_postal",
)  # fmt: skip
CAMPAIGNS_DIR = settings.SQL_DIR / "campaigns"


def audience_sql(campaign: str) -> str:
    return (CAMPAIGNS_DIR / f"{campaign}.sql").read_text(encoding="utf-8").strip().rstrip(";")


def audience_sizes(campaigns: tuple[str, ...] = CAMPAIGNS) -> dict[str, int]:
    """How many contacts each campaign's audience holds right now."""
    with warehouse.transaction() as conn:
        return {
            c: conn.execute(text(f"select count(*) from ({audience_sql(c)}) a")).scalar_one()
            for c in campaigns
        }


def choose(run_date: date) -> list[str]:
    """Task ids of the campaign groups to run: those whose audience is not empty."""
    sizes = audience_sizes()
    log.info("audiences for %s: %s", run_date, sizes)
    chosen = [f"{c}.audience" for c, n in sizes.items() if n > 0]
    return chosen or ["no_campaigns"]
