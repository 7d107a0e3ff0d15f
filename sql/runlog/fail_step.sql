-- A step of D failed for good (after its retries): the run failed there, and why. Recorded even
-- when the run failed before it was started (a missing connection), so the summary says it.
insert into journeyflow.pipeline_runs (run_date, status, started_at, finished_at, message)
values (:d, 'failed', now(), now(), :m)
on conflict (run_date) do update set
    status = 'failed',
    finished_at = now(),
    message = excluded.message
