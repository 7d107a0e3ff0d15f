-- The run date an Airflow run id recorded (the DAG run page links here by run id); a run of the
-- CLI has " (journeyflow run, pid N on host)" after the id.
select run_date
from journeyflow.pipeline_runs
where split_part(run_id, ' (journeyflow run, pid ', 1) = :run_id
order by run_date desc
limit 1
