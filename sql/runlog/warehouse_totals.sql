-- The size of the warehouse now.
select
    (select count(*) from journeyflow.contacts) as contacts,
    (select count(*) from journeyflow.events) as events,
    (select count(*) from journeyflow.anonymous_events) as anonymous_events,
    (select count(*) from journeyflow.identities) as linked_visitors,
    (select count(*) from journeyflow.quarantine) as quarantined
