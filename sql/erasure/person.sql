-- The contact to forget, locked, with the values that name them.
select contact_id, email, salutation, title, first_name, last_name, company, street,
       house_number, postal_code, city, consent_ip, erased_at
from journeyflow.contacts
where contact_id = :contact_id
for update
