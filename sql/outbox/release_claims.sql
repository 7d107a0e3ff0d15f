-- Rows a dead sender had claimed but never handed to SMTP go back to the queue.
update journeyflow.outbox
set status = 'queued', claimed_at = null
where campaign = :campaign and channel = 'email' and status = 'claimed'
returning outbox_id
