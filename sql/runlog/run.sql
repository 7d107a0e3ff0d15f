-- The run record of D: status, attempts, and what failed or needs a person.
select run_id, status, attempts, started_at, finished_at, message
from journeyflow.pipeline_runs
where run_date = :d
