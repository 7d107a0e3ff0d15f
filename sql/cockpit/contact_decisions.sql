-- A contact's campaign decisions up to D, newest first.
select run_date, campaign, step, channel, decision, reason
from journeyflow.v_campaign_decisions
where contact_id = :contact_id and run_date <= :d
order by run_date desc, campaign
limit 200
