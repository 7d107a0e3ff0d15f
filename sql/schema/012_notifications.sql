-- What journeyflow told people: the morning summary of a run date goes out once, also when the
-- summarize task or the whole date runs again.
create table if not exists journeyflow.notifications (
    kind      text not null,                 -- summary
    run_date  date not null,
    sent_at   timestamptz not null default now(),
    went      text not null,                 -- where it went (a file, the SMTP server), no address
    primary key (kind, run_date)
);

-- The run dates whose results are still open (each night counts them again).
create index if not exists campaign_results_open
    on journeyflow.campaign_results (run_date) where window_open;
