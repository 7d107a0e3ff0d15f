-- Rows a dead sender had handed to SMTP may have been delivered: in doubt, never resent alone.
update journeyflow.outbox
set status = 'in_doubt',
    last_error = 'the sender stopped after handing this message to SMTP; it may have been delivered'
where campaign = :campaign and channel = 'email' and status = 'sending'
returning outbox_id
