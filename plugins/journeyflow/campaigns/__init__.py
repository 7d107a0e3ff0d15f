"""Campaigns: who gets which step of which campaign on D, or why not, and which tasks run.

``audience`` collects the candidates of ``sql/campaigns/<name>.sql``; ``decide`` applies the
rules every campaign shares (consent, suppressions, steps, repeat windows, caps) in
``sql/decisions/decide.sql``; ``choose`` picks the campaign tasks with work.
"""

from journeyflow.campaigns.audience import AudienceError, audience_sql, campaign_names
from journeyflow.campaigns.choose import choose, pending
from journeyflow.campaigns.decide import Plan, StaleFactsError, decide, decisions_for, plan

__all__ = [
    "AudienceError", "Plan", "StaleFactsError", "audience_sql", "campaign_names", "choose",
    "decide", "decisions_for", "pending", "plan",
]  # fmt: skip
