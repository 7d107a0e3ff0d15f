-- A message refused over too many attempts fails.
update journeyflow.outbox
set status = 'failed', attempts = :attempts, last_error = :error
where outbox_id = :id
