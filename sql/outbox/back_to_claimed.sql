-- The server refused before DATA (or the connection broke): the row is this worker's again.
update journeyflow.outbox
set status = 'claimed'
where outbox_id = :id and status = 'sending'
