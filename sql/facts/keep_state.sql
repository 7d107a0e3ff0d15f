-- journeyflow.contact_behaviour is now as of the run of :d (cut-off :t) with these score rules.
insert into journeyflow.behaviour_state (run_date, cutoff, shape)
values (:d, :t, cast(:shape as jsonb))
on conflict (one) do update set
    run_date = excluded.run_date, cutoff = excluded.cutoff, shape = excluded.shape
