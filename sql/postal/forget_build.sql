-- ... and the undelivered build is removed, to be built again.
delete from journeyflow.postal_exports
where run_date = :run_date and campaign = :campaign and delivered_at is null
