-- D's phases are assigned: its cut-off, contacts and transitions.
insert into journeyflow.phase_runs (run_date, cutoff, contacts, transitions)
values (:d, :t, :n, :moves)
on conflict (run_date) do update set
    cutoff = excluded.cutoff,
    contacts = excluded.contacts,
    transitions = excluded.transitions
