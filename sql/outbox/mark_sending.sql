-- Committed before SMTP DATA, only while the claim is still this worker's.
update journeyflow.outbox
set status = 'sending', attempts = attempts + 1
where outbox_id = :id and status = 'claimed' and claimed_by = :worker
