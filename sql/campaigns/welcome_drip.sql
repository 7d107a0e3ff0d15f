-- campaign: welcome_drip
-- audience: new subscribers (phase subscription). Steps count from the day of the double-opt-in
-- confirmation (anchor_at). The engine adds consent, suppressions, steps, repeats and caps.
select p.contact_id, f.consent_confirmed_at as anchor_at
from journeyflow.v_contact_phase p
join journeyflow.contact_facts f using (contact_id)
where p.phase = 'subscription'
