-- Committed after the server's 250.
update journeyflow.outbox
set status = 'sent', sent_at = now(), last_error = null
where outbox_id = :sent_id
