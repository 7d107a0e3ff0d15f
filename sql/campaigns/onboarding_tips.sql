-- campaign: onboarding_tips
-- audience: first-time buyers of the last 30 days (phase excitement) who can be emailed.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'excitement' and f.email_ok
