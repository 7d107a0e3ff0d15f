-- The vendor has the mailing whose marker upload was in doubt.
update journeyflow.postal_exports
set delivered_at = now()
where run_date = :run_date and campaign = :campaign and delivered_at is null
  and marker_at is not null
