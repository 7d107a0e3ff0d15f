-- Held, held-out and excluded decisions of D by reason (the morning summary groups them).
select campaign, decision, reason, sum(contacts)::bigint as contacts
from journeyflow.decision_outcomes
where run_date = :d and decision in ('held', 'excluded', 'held_out')
group by 1, 2, 3
