-- A stopped worker gives back what it claimed but did not try.
update journeyflow.outbox
set status = 'queued', claimed_at = null
where outbox_id = any(:ids) and status = 'claimed'
