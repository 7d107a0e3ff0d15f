-- A rerun of D replaces its decisions.
delete from journeyflow.campaign_decisions where run_date = :d
