-- One contact as journeyflow.email.render.Recipient (journeyflow preview).
select
    c.contact_id, c.email, c.language, c.salutation, c.title, c.first_name, c.last_name, c.city,
    coalesce(f.order_count, 0), f.first_product, f.last_product, f.first_order_at,
    f.last_order_at
from journeyflow.contacts c
left join journeyflow.contact_facts f using (contact_id)
where c.contact_id = :c
