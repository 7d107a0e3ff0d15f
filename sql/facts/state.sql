-- As of which run journeyflow.contact_behaviour is, and the score rules that shaped it.
select run_date, cutoff, shape from journeyflow.behaviour_state
