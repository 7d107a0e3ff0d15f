-- The newest run date with decisions for one contact.
select max(run_date) from journeyflow.campaign_decisions where contact_id = :c
