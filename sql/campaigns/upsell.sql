-- campaign: upsell
-- audience: returning customers (phase ascension); bad payers are excluded.
select p.contact_id,
       case when f.bad_payer then 'bad payer (payment overdue in the last 365 days)' end as excluded
from journeyflow.v_contact_phase p
join journeyflow.contact_facts f using (contact_id)
where p.phase = 'ascension'
