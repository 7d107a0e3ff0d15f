-- How many contacts changed phase on D.
select cast(coalesce(sum(contacts), 0) as bigint)
from journeyflow.phase_transitions
where run_date = :d
