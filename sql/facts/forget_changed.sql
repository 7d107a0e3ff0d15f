-- The rows of the contacts in scope go; sql/facts/behaviour.sql writes them again.
delete from journeyflow.contact_behaviour b
using scope s
where b.contact_id = s.contact_id
