-- The pieces of a built mailing are exported (and so in the send log).
update journeyflow.outbox
set status = 'exported', last_error = null, sent_at = coalesce(sent_at, now())
where outbox_id = any(:ids)
