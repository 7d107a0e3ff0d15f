-- The results of the run dates about to be counted again.
delete from journeyflow.campaign_results
where run_date = any(cast(:dates as date[]))
