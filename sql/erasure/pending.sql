-- erasure_request events whose contact is still in the warehouse: forgotten within the run.
select distinct on (e.contact_id) e.contact_id, e.event_id, e.occurred_at
from journeyflow.events e
join journeyflow.contacts c using (contact_id)
where e.type = 'erasure_request' and c.erased_at is null
order by e.contact_id, e.occurred_at, e.event_id
