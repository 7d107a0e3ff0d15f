-- D ended: its status and, for a failure, what failed.
update journeyflow.pipeline_runs
set status = :s, finished_at = now(), message = :m
where run_date = :d
