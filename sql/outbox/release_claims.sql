-- Rows a dead sender shard had claimed but never handed to SMTP go back to the queue. The owner
-- is the part of claimed_by before '|' ("<campaign>/<shard>").
update journeyflow.outbox
set status = 'queued', claimed_at = null
where campaign = :campaign and channel = 'email' and status = 'claimed'
  and split_part(claimed_by, '|', 1) = :owner
returning outbox_id
