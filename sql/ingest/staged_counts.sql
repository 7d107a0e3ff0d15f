-- Rows in staging after the load.
select
    (select count(*) from journeyflow_staging.contacts) as contacts,
    (select count(*) from journeyflow_staging.events) as events,
    (select count(*) from journeyflow_staging.events where contact_id is null) as anonymous_events
