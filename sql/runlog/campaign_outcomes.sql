-- The campaign decisions of D by campaign, channel and outcome.
select campaign, channel, decision, sum(contacts)::bigint as contacts
from journeyflow.decision_outcomes
where run_date = :d
group by 1, 2, 3
order by 1, 2, 3
