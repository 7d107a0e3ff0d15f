-- Who a contact is (for users who may edit the DAG only).
select first_name, last_name, email, street, house_number, postal_code, city, country
from journeyflow.contacts
where contact_id = :contact_id
