-- A malformed record with its reason; the same record twice is kept once.
insert into journeyflow.quarantine (stream, record_id, reason, raw, raw_hash, first_run_date)
values (:s, :id, :reason, cast(:raw as jsonb), :h, :d)
on conflict (stream, raw_hash) do nothing
