-- True when no anonymous event has been merged yet (the first bulk load).
select not exists (select from journeyflow.anonymous_events)
