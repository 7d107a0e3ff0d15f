-- In-doubt messages the mail server does not have: queued again.
update journeyflow.outbox
set status = 'queued', claimed_at = null
where outbox_id = any(:ids)
