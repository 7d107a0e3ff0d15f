-- A message still refused after this run's retries waits for a later run.
update journeyflow.outbox
set status = 'queued', attempts = :attempts, last_error = :error, claimed_at = null,
    next_attempt_at = now() + make_interval(mins => :minutes)
where outbox_id = :id
