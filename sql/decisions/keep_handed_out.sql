-- What a run of D handed out stays in its decisions, chosen by this run or not.
insert into journeyflow.campaign_decisions
    (run_date, contact_id, campaign, step, channel, decision, reason, occurrence, variant)
select
    :d, o.contact_id, o.campaign, o.step, o.channel, 'queued',
    'due: step ' || o.step || ' (decided by an earlier run of this date)', o.occurrence, o.variant
from journeyflow.outbox o
where o.run_date = :d and o.status = any(:out)
on conflict do nothing
