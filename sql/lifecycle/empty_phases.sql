-- Phases that matched nobody in the last run.
select phase
from journeyflow.phase_counts
where contacts = 0
  and run_date = (select max(run_date) from journeyflow.phase_counts)
