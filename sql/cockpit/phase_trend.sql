-- Contacts per phase for the last 90 days up to D, oldest first (the trend chart).
select run_date, phase, contacts
from journeyflow.v_phase_counts
where run_date between cast(:d as date) - 89 and :d
order by run_date, phase
