-- How many messages this run renders: its queued email decisions without an outbox row yet (a
-- rerun of D finds the ones it queued before). The same rows as outbox/recipients.sql.
select count(*)
from decided d
where d.decision = 'queued'
  and d.channel = 'email'
  and not exists (
      select 1 from journeyflow.outbox o
      where o.contact_id = d.contact_id and o.campaign = d.campaign and o.step = d.step
        and o.occurrence = d.occurrence
  )
