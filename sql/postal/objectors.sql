-- The outbox rows whose contact objects to postal advertising now: postal_opt_out, a postal
-- suppression or a postal unsubscribe event.
with pieces as (
    select outbox_id, contact_id from journeyflow.outbox where outbox_id = any(:ids)
)

select p.outbox_id, p.contact_id
from pieces p
left join journeyflow.contacts c using (contact_id)
where coalesce(c.postal_opt_out, false)
   or p.contact_id in (
       select s.contact_id from journeyflow.suppressions s where s.channel = 'postal'
   )
   or p.contact_id in (
       select e.contact_id from journeyflow.events e
       where e.type = 'unsubscribe' and e.channel = 'postal'
         and e.contact_id in (select contact_id from pieces)
   )
