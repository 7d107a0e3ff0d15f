-- The run of D failed; a failed step's own message, if recorded, stays.
update journeyflow.pipeline_runs
set status = 'failed', finished_at = now(),
    message = case when status = 'failed' and message is not null then message else :m end
where run_date = :d
