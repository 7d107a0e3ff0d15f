-- Rows in staging after the load.
select
    (select count(*) from journeyflow_staging.contacts) as contacts,
    (select count(*) from journeyflow_staging.events) as events
