-- Runs marked running (any date), newest first, with the last step each finished.
select r.run_date, r.run_id, r.started_at,
       (select s.step from journeyflow.pipeline_steps s
        where s.run_date = r.run_date order by s.finished_at desc limit 1) as last_step
from journeyflow.pipeline_runs r
where r.status = 'running'
order by r.started_at desc
