-- campaign: tripwire_offer
-- audience: subscribers without an order for more than 14 days (phase conversion).
select p.contact_id
from journeyflow.v_contact_phase p
where p.phase = 'conversion'
