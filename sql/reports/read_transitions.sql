-- The transitions of D, largest first.
select from_phase, to_phase, contacts
from journeyflow.phase_transitions
where run_date = :d
order by contacts desc
