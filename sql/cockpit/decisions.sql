-- Every decision of D by campaign, step, channel, outcome and reason.
select campaign, step, channel, decision, reason, sum(contacts)::bigint as contacts
from journeyflow.decision_outcomes
where run_date = :d
group by 1, 2, 3, 4, 5
order by 1, 2, 3, 6 desc, 4, 5
