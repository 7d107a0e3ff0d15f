-- The decisions of D, kept.
insert into journeyflow.campaign_decisions
    (run_date, contact_id, campaign, step, channel, decision, reason, occurrence, variant)
select :d, contact_id, campaign, step, channel, decision, reason, occurrence, variant
from decided
