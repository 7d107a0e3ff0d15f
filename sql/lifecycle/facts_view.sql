-- The phase files read the kept facts of the run under the name facts.
create temp view facts as select * from journeyflow.contact_facts
