-- As of which run journeyflow.contact_behaviour is, and the score rules that shaped it.
select run_date, cutoff, t0, shape from journeyflow.behaviour_state
