-- D started (again): attempts count up, the message clears.
insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at)
values (:d, :r, 'running', now())
on conflict (run_date) do update set
    run_id = excluded.run_id,
    status = 'running',
    started_at = now(),
    finished_at = null,
    attempts = journeyflow.pipeline_runs.attempts + 1,
    message = null
