-- campaign: testimonial_request
-- audience: happy customers (phases advocate and promoter).
select p.contact_id
from journeyflow.v_contact_phase p
where p.phase in ('advocate', 'promoter')
