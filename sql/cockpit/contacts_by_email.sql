-- Contacts with this email address (the search of users who may edit the DAG).
select contact_id
from journeyflow.contacts
where lower(email) = :email
order by contact_id
limit 20
