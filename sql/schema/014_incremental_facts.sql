-- Incremental facts: what the events before T say about each contact, kept between runs in a form
-- that does not depend on T, so that a night recomputes only the contacts whose events changed.
--
-- The decayed score factorises: sum(p * 0.5^((T - t)/h)) = 0.5^((T - t0)/h) * sum(p * 2^((t - t0)/h))
-- for any t0 (here the cut-off of the last full recompute, kept in behaviour_state, so that the
-- powers stay far from overflow). score_sum keeps the second sum over the score window, so a
-- contact whose events did not change and none of whose events entered or left the window keeps
-- its row; the facts multiply by the first factor for the T of the run (sql/facts/).

create table if not exists journeyflow.contact_behaviour (
    contact_id            text collate "C" primary key,
    order_count           integer not null,
    first_order_at        timestamptz,
    last_order_at         timestamptz,
    revenue               numeric not null,
    avg_rating            numeric,
    min_rating            smallint,
    last_engaged_at       timestamptz,
    last_referral_at      timestamptz,
    last_response_at      timestamptz,
    score_sum             double precision not null,   -- sum(points * 2^((t - t0)/h)), window
    last_overdue_at       timestamptz,                 -- bad_payer: within bad_payer_days of T
    email_unsubscribed_at timestamptz,
    hard_bounce_at        timestamptz,
    postal_unsubscribed   boolean not null,
    postal_returned_at    timestamptz,
    first_event_at        timestamptz,
    first_product         text,
    last_product          text,
    anonymous_ids         integer not null
);

-- As of which run the rows are, and the rules that shaped them (other rules: a full recompute).
create table if not exists journeyflow.behaviour_state (
    one       boolean primary key default true check (one),
    run_date  date not null,
    cutoff    timestamptz not null,
    t0        timestamptz not null,   -- the reference of score_sum: the last full recompute's T
    shape     jsonb not null
);

-- Contacts whose events, links or row changed since their behaviour was computed. Triggers fill it
-- whoever writes (the merge, stitching, erasure, a person with psql); the score step empties it.
create table if not exists journeyflow.behaviour_changed (
    contact_id  text collate "C" not null
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
    elsif tg_table_name in ('events', 'identities') then
        if tg_op in ('INSERT', 'UPDATE') then
            insert into journeyflow.behaviour_changed select distinct contact_id from new_rows;
        end if;
        if tg_op in ('UPDATE', 'DELETE') then
            insert into journeyflow.behaviour_changed select distinct contact_id from old_rows;
        end if;
    else  -- anonymous_events: the contacts their visitors are linked to
        if tg_op in ('INSERT', 'UPDATE') then
            insert into journeyflow.behaviour_changed
            select distinct i.contact_id
            from journeyflow.identities i
            where i.anonymous_id in (select anonymous_id from new_rows);
        end if;
        if tg_op in ('UPDATE', 'DELETE') then
            insert into journeyflow.behaviour_changed
            select distinct i.contact_id
            from journeyflow.identities i
            where i.anonymous_id in (select anonymous_id from old_rows);
        end if;
    end if;
    return null;
end
$$;

do $$
declare
    t text;
begin
    foreach t in array array['events', 'anonymous_events', 'identities'] loop
        execute 'drop trigger if exists ' || quote_ident(t || '_ins') || ' on journeyflow.'
            || quote_ident(t);
        execute 'create trigger ' || quote_ident(t || '_ins') || ' after insert on journeyflow.'
            || quote_ident(t) || ' referencing new table as new_rows for each statement'
            || ' execute function journeyflow.note_changed_contacts()';
        execute 'drop trigger if exists ' || quote_ident(t || '_upd') || ' on journeyflow.'
            || quote_ident(t);
        execute 'create trigger ' || quote_ident(t || '_upd') || ' after update on journeyflow.'
            || quote_ident(t) || ' referencing new table as new_rows old table as old_rows'
            || ' for each statement execute function journeyflow.note_changed_contacts()';
        execute 'drop trigger if exists ' || quote_ident(t || '_del') || ' on journeyflow.'
            || quote_ident(t);
        execute 'create trigger ' || quote_ident(t || '_del') || ' after delete on journeyflow.'
            || quote_ident(t) || ' referencing old table as old_rows for each statement'
            || ' execute function journeyflow.note_changed_contacts()';
    end loop;
end
$$;

-- A contact renamed (erasure) or deleted: its old and new ids. A new contact has no row yet and
-- is found by the score step itself; an update that keeps the id adds nothing here.
drop trigger if exists contacts_upd on journeyflow.contacts;
create trigger contacts_upd after update on journeyflow.contacts
    referencing new table as new_rows old table as old_rows
    for each statement execute function journeyflow.note_changed_contacts();
drop trigger if exists contacts_del on journeyflow.contacts;
create trigger contacts_del after delete on journeyflow.contacts
    referencing old table as old_rows
    for each statement execute function journeyflow.note_changed_contacts();

-- The day's events and those leaving the score window are found by time.
create index if not exists events_time on journeyflow.events (occurred_at);

-- A rerun of D undoes what D wrote to the phase history: found by date, not by reading it all.
create index if not exists phase_history_entered on journeyflow.phase_history (entered_run_date);
create index if not exists phase_history_left
    on journeyflow.phase_history (left_run_date) where left_run_date is not null;
