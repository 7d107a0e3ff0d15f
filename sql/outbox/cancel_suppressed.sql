-- Queued emails of a campaign whose contact unsubscribed or bounced since they were queued.
update journeyflow.outbox
set status = 'cancelled', last_error = 'suppressed after it was queued (unsubscribed or bounced)'
where campaign = :campaign
  and channel = 'email'
  and status = 'queued'
  and exists (
      select 1 from journeyflow.suppressions s
      where s.contact_id = outbox.contact_id and s.channel = 'email'
        and (s.address = '' or s.address = lower(outbox.recipient))
  )
returning outbox_id
