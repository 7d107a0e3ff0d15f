-- ... and the stays it closed are open again.
update journeyflow.phase_history
set left_run_date = null, left_at = null
where left_run_date = :d
