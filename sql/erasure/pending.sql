-- erasure_request events of the batch (merged by now) whose contact is not forgotten yet: also
-- one held only in quarantine or not at all (forget tells them apart by the keyed hash). A rerun
-- of the merge finds the ones a failed run left: the batch stays staged.
select distinct on (e.contact_id) e.contact_id, e.event_id, e.occurred_at
from journeyflow_staging.events e
left join journeyflow.contacts c using (contact_id)
where e.type = 'erasure_request' and c.erased_at is null
order by e.contact_id, e.occurred_at, e.event_id
