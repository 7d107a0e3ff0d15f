-- One row per step and run date: rows in and out, quarantined, seconds and details.
insert into journeyflow.pipeline_steps
    (run_date, step, rows_in, rows_out, quarantined, seconds, details, finished_at)
values (:d, :step, :rin, :rout, :q, :s, cast(:details as jsonb), now())
on conflict (run_date, step) do update set
    rows_in = excluded.rows_in,
    rows_out = excluded.rows_out,
    quarantined = excluded.quarantined,
    seconds = excluded.seconds,
    details = excluded.details,
    finished_at = excluded.finished_at
