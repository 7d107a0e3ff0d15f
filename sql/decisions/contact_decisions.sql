-- One contact's decisions of D, with their outcome.
select run_date, campaign, step, channel, decision, reason
from journeyflow.v_campaign_decisions
where contact_id = :c and run_date = :d
order by campaign
