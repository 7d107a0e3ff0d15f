-- Folded facts: a night adds the day's events to the kept behaviour instead of reading each
-- touched contact's whole history again (sql/facts/delta.sql, sql/facts/fold.sql).
--
-- An insert into events (or into anonymous_events, of a visitor linked to a contact) now keeps the
-- event's id here, and the score step folds it in: the insert triggers of 014 call the function
-- below instead of noting the contacts. An update or a delete still notes the contacts in
-- behaviour_changed (014's function), whose behaviour is then recomputed from all their events.

create table if not exists journeyflow.behaviour_added (
    event_id     text collate "C" not null,
    anonymous    boolean not null,          -- in anonymous_events (else in events)
    occurred_at  timestamptz not null       -- as inserted (a later update notes the contact)
);

create or replace function journeyflow.note_added_events() returns trigger
language plpgsql as $$
begin
    if not exists (select from journeyflow.behaviour_state) then
        return null;  -- nothing kept yet: the first score step recomputes everyone anyway
    end if;
    if tg_table_name = 'events' then
        insert into journeyflow.behaviour_added select event_id, false, occurred_at from new_rows;
    else  -- anonymous_events: those of visitors linked to a contact
        insert into journeyflow.behaviour_added
        select n.event_id, true, n.occurred_at
        from new_rows n
        where n.anonymous_id in (select i.anonymous_id from journeyflow.identities i);
    end if;
    return null;
end
$$;

drop trigger if exists events_ins on journeyflow.events;
create trigger events_ins after insert on journeyflow.events
    referencing new table as new_rows
    for each statement execute function journeyflow.note_added_events();
drop trigger if exists anonymous_events_ins on journeyflow.anonymous_events;
create trigger anonymous_events_ins after insert on journeyflow.anonymous_events
    referencing new table as new_rows
    for each statement execute function journeyflow.note_added_events();
