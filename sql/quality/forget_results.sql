-- A rerun of the gate for D replaces its results.
delete from journeyflow.validation_results where run_date = :d
