-- campaign: welcome_drip
-- audience: new subscribers (phase subscription) who can be emailed.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'subscription' and f.email_ok
