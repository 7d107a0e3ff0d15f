-- The decisions of D, kept.
insert into journeyflow.campaign_decisions
select :d, contact_id, campaign, step, channel, decision, reason, occurrence
from decided
