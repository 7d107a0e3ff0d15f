-- The run dates the cockpit can show (any recorded run or phase assignment), newest first.
select run_date from journeyflow.pipeline_runs
union
select run_date from journeyflow.phase_runs
order by run_date desc
limit 120
