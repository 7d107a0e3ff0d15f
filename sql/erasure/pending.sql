-- erasure_request events of the batch whose contact is still in the warehouse: forgotten within
-- the run (a rerun of the merge finds the ones a failed run left, the batch stays staged).
select distinct on (e.contact_id) e.contact_id, e.event_id, e.occurred_at
from journeyflow_staging.events e
join journeyflow.contacts c using (contact_id)
where e.type = 'erasure_request' and c.erased_at is null
order by e.contact_id, e.occurred_at, e.event_id
