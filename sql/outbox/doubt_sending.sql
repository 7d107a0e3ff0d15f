-- Rows a dead sender shard had handed to SMTP may have been delivered: in doubt, never resent
-- on their own.
update journeyflow.outbox
set status = 'in_doubt',
    last_error = 'the sender stopped after handing this message to SMTP; it may have been delivered'
where campaign = :campaign and channel = 'email' and status = 'sending'
  and split_part(claimed_by, '|', 1) = :owner
returning outbox_id
