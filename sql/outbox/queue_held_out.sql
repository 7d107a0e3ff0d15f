-- Held-out decisions of D become outbox rows without a message: the "once" rule and repeat
-- windows read them as done, the caps and the senders never see them. A row an earlier run of D
-- queued and this run cancelled becomes held out.
insert into journeyflow.outbox
    (contact_id, campaign, step, occurrence, channel, run_date, status, variant)
select contact_id, campaign, step, occurrence, channel, :d, 'held_out', 'holdout'
from decided
where decision = 'held_out'
on conflict (contact_id, campaign, step, occurrence) do update
set status = 'held_out', variant = 'holdout', message = null, recipient = null,
    message_id = null, last_error = null
where journeyflow.outbox.status = 'cancelled' and journeyflow.outbox.run_date = :d
