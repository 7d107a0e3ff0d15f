-- Committed right before the .done marker goes up: the in-doubt window starts.
update journeyflow.postal_exports
set marker_at = now()
where run_date = :run_date and campaign = :campaign
