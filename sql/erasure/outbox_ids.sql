-- The outbox rows of one contact.
select outbox_id from journeyflow.outbox where contact_id = :contact_id
