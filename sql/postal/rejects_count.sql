-- Rows left out of the mailing of a date.
select count(*) from journeyflow.postal_rejects where run_date = :run_date and campaign = :campaign
