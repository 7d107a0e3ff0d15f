-- campaign: testimonial_request
-- audience: happy customers (phases advocate and promoter) who can be emailed.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase in ('advocate', 'promoter') and f.email_ok
