-- The newest run date whose phases were assigned.
select max(run_date) from journeyflow.phase_runs
