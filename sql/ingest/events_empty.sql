-- True before the first events are merged (the first load builds the primary key after).
select not exists (select from journeyflow.events)
