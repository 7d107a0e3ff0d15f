-- campaign: onboarding_tips
-- audience: first-time buyers of the last 30 days (phase excitement). Steps count from the day of
-- the first order (anchor_at).
select p.contact_id, f.first_order_at as anchor_at
from journeyflow.v_contact_phase p
join journeyflow.contact_facts f using (contact_id)
where p.phase = 'excitement'
