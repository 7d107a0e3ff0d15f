-- Emails still waiting from earlier run dates whose contact may no longer be mailed.
update journeyflow.outbox o
set status = 'cancelled',
    last_error = 'no longer allowed on ' || :d || ': ' || coalesce(f.email_block, 'email not allowed')
from journeyflow.contact_facts f
where f.contact_id = o.contact_id
  and o.channel = 'email'
  and o.status = 'queued'
  and o.run_date < :d
  and not f.email_ok
