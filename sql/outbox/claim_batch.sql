-- A worker claims the next batch of a campaign's due emails; other workers skip these rows.
update journeyflow.outbox
set status = 'claimed', claimed_at = now(), claimed_by = :worker
where outbox_id in (
    select outbox_id
    from journeyflow.outbox
    where campaign = :campaign
      and channel = 'email'
      and status = 'queued'
      and message is not null  -- a forgotten person's message is gone (never sent)
      and run_date <= :d
      and (next_attempt_at is null or next_attempt_at <= now())
      and not exists (
          select 1 from journeyflow.suppressions s
          where s.contact_id = outbox.contact_id and s.channel = 'email'
            and (s.address = '' or s.address = lower(outbox.recipient))
      )
    order by outbox_id
    limit :batch
    for update skip locked
)
returning outbox_id, recipient, message, attempts, run_date, step, occurrence
