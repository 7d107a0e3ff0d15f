-- The campaign decisions of D by campaign, channel and outcome.
select campaign, channel, decision, count(*) as contacts
from journeyflow.v_campaign_decisions
where run_date = :d
group by 1, 2, 3
order by 1, 2, 3
