-- Queued emails of a campaign up to D are cancelled by hand; a later run decides them again.
update journeyflow.outbox
set status = 'cancelled', last_error = 'cancelled by hand (journeyflow outbox --cancel-queued)'
where campaign = :campaign and channel = 'email' and status = 'queued' and run_date <= :d
