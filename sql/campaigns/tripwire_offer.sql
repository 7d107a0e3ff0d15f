-- campaign: tripwire_offer
-- audience: subscribers without an order for more than 14 days (phase conversion) who can be emailed.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'conversion' and f.email_ok
