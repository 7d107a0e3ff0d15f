-- A hard bounce: the message is bounced ...
update journeyflow.outbox
set status = 'bounced', last_error = :error
where outbox_id = :id
