-- The mailing is in the drop.
update journeyflow.postal_exports
set delivered_at = coalesce(delivered_at, now())
where run_date = :run_date and campaign = :campaign
returning delivered_at
