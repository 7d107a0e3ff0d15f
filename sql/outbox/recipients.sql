-- The queued email decisions of this run without an outbox row yet, with what rendering needs
-- of each contact (in the field order of journeyflow.email.render.Recipient after campaign,
-- step, occurrence and variant), numbered in the order their rows go into the outbox (n).
select
    row_number() over (order by d.campaign, d.contact_id) as n,
    d.campaign, d.step, d.occurrence, d.variant,
    c.contact_id, c.email, c.language, c.salutation, c.title, c.first_name, c.last_name, c.city,
    coalesce(f.order_count, 0) as order_count, f.first_product, f.last_product,
    f.first_order_at, f.last_order_at
from decided d
join journeyflow.contacts c using (contact_id)
left join journeyflow.contact_facts f using (contact_id)
where d.decision = 'queued'
  and d.channel = 'email'
  and not exists (
      select 1 from journeyflow.outbox o
      where o.contact_id = d.contact_id and o.campaign = d.campaign and o.step = d.step
        and o.occurrence = d.occurrence
  )
