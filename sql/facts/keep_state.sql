-- journeyflow.contact_behaviour is now as of the run of :d (cut-off :t), its score sums relative
-- to :t0, with these score rules.
insert into journeyflow.behaviour_state (run_date, cutoff, t0, shape)
values (:d, :t, :t0, cast(:shape as jsonb))
on conflict (one) do update set
    run_date = excluded.run_date, cutoff = excluded.cutoff, t0 = excluded.t0,
    shape = excluded.shape
