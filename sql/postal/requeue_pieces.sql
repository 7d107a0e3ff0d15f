-- An undelivered build is undone: its pieces and their household members are queued again.
update journeyflow.outbox
set status = 'queued', last_error = null, sent_at = null
where (outbox_id = any(:pieces) and status = 'exported')
   or (outbox_id = any(:households) and status = 'household')
returning contact_id
