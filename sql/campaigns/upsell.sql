-- campaign: upsell
-- audience: returning customers (phase ascension) who pay their bills and can be emailed.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'ascension' and not f.bad_payer and f.email_ok
