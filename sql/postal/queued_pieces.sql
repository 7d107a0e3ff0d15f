-- The queued letters of a campaign up to D, with the contact's address, locked for the build.
select
    o.outbox_id, o.contact_id, c.contact_id is not null as known,
    c.salutation, c.title, c.first_name, c.last_name, c.company, c.street, c.house_number,
    c.postal_code, c.city, c.country
from journeyflow.outbox o
left join journeyflow.contacts c on c.contact_id = o.contact_id
where o.channel = 'postal'
  and o.campaign = :campaign
  and o.run_date <= :run_date
  and o.status = 'queued'
order by o.contact_id, o.run_date, o.step, o.occurrence
for update of o
