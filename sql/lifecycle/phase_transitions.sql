-- Moves between phases on D ('(new)' for contacts seen for the first time).
insert into journeyflow.phase_transitions (run_date, from_phase, to_phase, contacts)
select :d, coalesce(previous_phase, '(new)'), phase, count(*)
from journeyflow.phase_history
where entered_run_date = :d
group by 2, 3
