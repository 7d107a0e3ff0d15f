-- Folded facts: a night adds the day's events to the kept behaviour instead of reading each
-- touched contact's whole history again (sql/facts/delta.sql, sql/facts/fold.sql).
--
-- The triggers of 014 now tell an added event from a changed one: an insert into events (or into
-- anonymous_events, of a visitor linked to a contact) keeps the event's id here, and the score
-- step folds it in; an update or a delete still notes the contacts in behaviour_changed, whose
-- behaviour is then recomputed from all their events.

create table if not exists journeyflow.behaviour_added (
    event_id     text collate "C" not null,
    anonymous    boolean not null,          -- in anonymous_events (else in events)
    occurred_at  timestamptz not null       -- as inserted (a later update notes the contact)
);

create or replace function journeyflow.note_changed_contacts() returns trigger
language plpgsql as $$
begin
    if not exists (select from journeyflow.behaviour_state) then
        return null;  -- nothing kept yet: the first score step recomputes everyone anyway
    end if;
    -- the transition tables are named alike on every trigger below: new_rows, old_rows
    if tg_table_name = 'contacts' then  -- renamed (erasure) or deleted: the old and new ids
        if tg_op = 'DELETE' then
            insert into journeyflow.behaviour_changed select contact_id from old_rows;
        else
            insert into journeyflow.behaviour_changed
            (select contact_id from old_rows except select contact_id from new_rows)
            union all
            (select contact_id from new_rows except select contact_id from old_rows);
        end if;
    elsif tg_table_name = 'events' and tg_op = 'INSERT' then  -- added: folded in
        insert into journeyflow.behaviour_added select event_id, false, occurred_at from new_rows;
    elsif tg_table_name = 'anonymous_events' and tg_op = 'INSERT' then  -- of linked visitors
        insert into journeyflow.behaviour_added
        select n.event_id, true, n.occurred_at
        from new_rows n
        where n.anonymous_id in (select i.anonymous_id from journeyflow.identities i);
    elsif tg_table_name in ('events', 'identities') then
        if tg_op in ('INSERT', 'UPDATE') then
            insert into journeyflow.behaviour_changed select distinct contact_id from new_rows;
        end if;
        if tg_op in ('UPDATE', 'DELETE') then
            insert into journeyflow.behaviour_changed select distinct contact_id from old_rows;
        end if;
    else  -- anonymous_events changed or deleted: the contacts their visitors are linked to
        if tg_op = 'UPDATE' then
            insert into journeyflow.behaviour_changed
            select distinct i.contact_id
            from journeyflow.identities i
            where i.anonymous_id in (select anonymous_id from new_rows);
        end if;
        insert into journeyflow.behaviour_changed
        select distinct i.contact_id
        from journeyflow.identities i
        where i.anonymous_id in (select anonymous_id from old_rows);
    end if;
    return null;
end
$$;
