-- In-doubt messages the mail server has: sent.
update journeyflow.outbox
set status = 'sent', sent_at = coalesce(sent_at, now())
where outbox_id = any(:ids)
