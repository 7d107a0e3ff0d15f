-- Contacts whose id starts with the search text.
select contact_id
from journeyflow.contacts
where contact_id like :prefix
order by contact_id
limit 20
