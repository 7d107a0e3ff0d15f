-- The vendor does not have it: the next export delivers it again.
update journeyflow.postal_exports
set marker_at = null
where run_date = :run_date and campaign = :campaign and delivered_at is null
  and marker_at is not null
