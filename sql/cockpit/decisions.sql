-- Every decision of D by campaign, step, channel, outcome and reason.
select campaign, step, channel, decision, reason, count(*) as contacts
from journeyflow.v_campaign_decisions
where run_date = :d
group by 1, 2, 3, 4, 5
order by 1, 2, 3, 6 desc, 4, 5
