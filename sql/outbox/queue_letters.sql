-- Queued decisions of other channels than email (letters) become outbox rows.
insert into journeyflow.outbox
    (contact_id, campaign, step, occurrence, channel, run_date, variant)
select contact_id, campaign, step, occurrence, channel, :d, variant
from decided
where decision = 'queued' and channel <> 'email'
on conflict do nothing
