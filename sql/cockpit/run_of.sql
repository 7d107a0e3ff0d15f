-- The run date an Airflow run id recorded (the DAG run page links here by run id).
select run_date from journeyflow.pipeline_runs where run_id = :run_id
