-- What the extract of a stream staged for D: the load checks that every stream is of D.
insert into journeyflow_staging.batch as b
    (stream, run_date, since, pages, records, staged, quarantined)
values (:s, :d, :since, :p, :n, :ok, :q)
on conflict (stream) do update set
    run_date = excluded.run_date,
    since = excluded.since,
    pages = excluded.pages,
    records = excluded.records,
    staged = excluded.staged,
    quarantined = excluded.quarantined
