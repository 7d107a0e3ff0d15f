-- The run date the kept contact facts are of.
select max(run_date) from journeyflow.contact_facts
