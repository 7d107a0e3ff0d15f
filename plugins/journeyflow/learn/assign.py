"""Who is in a campaign's holdout and which variant of a step a contact gets.

The same formula as ``sql/decisions/decide.sql``, so that an analyst can recompute it anywhere:
``bucket = int(sha256("<campaign>:<contact_id>").hexdigest()[:8], 16) % 10000``; buckets below
``holdout * 10000`` are the control group, the rest are split into the step's variants in order
by weight.
"""

from __future__ import annotations

import hashlib

from journeyflow.config import Campaign
from journeyflow.config.model import BUCKETS, HOLDOUT


def bucket(campaign: str, contact_id: str) -> int:
    """The contact's bucket (0..9999) in a campaign: the same in every run and on every date."""
    digest = hashlib.sha256(f"{campaign}:{contact_id}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def assignment(campaign: Campaign, step: int, contact_id: str) -> str:
    """``holdout`` or the name of the variant of ``step`` the contact gets."""
    b = bucket(campaign.name, contact_id)
    if b < campaign.holdout_buckets:
        return HOLDOUT
    return next(name for name, start, end in campaign.variant_ranges(step) if start <= b < end)
