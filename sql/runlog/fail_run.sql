-- The run of D failed. A failed step's own message stays; a run that worked but needs a person
-- (needs_attention failed on purpose) stays a warning with its lines.
update journeyflow.pipeline_runs
set status = case when status = 'warning' then 'warning' else 'failed' end,
    finished_at = now(),
    message = case
        when status in ('failed', 'warning') and message is not null then message
        else :m
    end
where run_date = :d
