-- The connection broke during DATA: the server may or may not have the message.
update journeyflow.outbox
set status = 'in_doubt', last_error = :error
where outbox_id = :id
