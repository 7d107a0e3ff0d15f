-- Contacts assigned a phase in this run.
select count(*) from assigned
