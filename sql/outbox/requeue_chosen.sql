-- Rows an earlier run of D cancelled that this run chooses again.
update journeyflow.outbox o
set status = 'queued', last_error = null
from decided d
where o.status = 'cancelled'
  and o.run_date = :d
  and d.decision = 'queued'
  and d.contact_id = o.contact_id
  and d.campaign = o.campaign
  and d.step = o.step
  and d.occurrence = o.occurrence
