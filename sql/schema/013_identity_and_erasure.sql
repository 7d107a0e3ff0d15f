-- Identity: anonymous visitors, the identify links that stitch them to contacts, first touch;
-- erasure: what stays of a person who asked to be forgotten.

-- An identify event carries the anonymous id it links (null for every other contact event).
alter table journeyflow.events add column if not exists anonymous_id text collate "C";
alter table journeyflow_staging.events add column if not exists anonymous_id text collate "C";

-- Events of visitors we do not know (yet): kept under their anonymous id, never quarantined.
-- Most events of a shop or a news site are these; they live apart so that the nightly pass over
-- the contacts' events does not read them.
create table if not exists journeyflow.anonymous_events (
    event_id      text collate "C" primary key,
    anonymous_id  text collate "C" not null,
    type          text not null,
    occurred_at   timestamptz not null,
    properties    jsonb not null default '{}',
    -- the typed copies of the contacts' events: once linked, these count as the contact's own
    order_id             text,
    amount               numeric(14, 2),
    currency             text,
    product              text,
    rating               smallint,
    referred_contact_id  text,
    channel              text,
    kind                 text,
    run_date      date not null
);
create index if not exists anonymous_events_visitor
    on journeyflow.anonymous_events (anonymous_id, occurred_at);
create index if not exists anonymous_events_time
    on journeyflow.anonymous_events (occurred_at, anonymous_id);

-- One anonymous id belongs to at most one contact, from its first identify on (identified_at is
-- that event's occurred_at: the run for D counts the links identified before its cut-off T).
create table if not exists journeyflow.identities (
    anonymous_id   text collate "C" primary key,
    contact_id     text collate "C" not null,
    identified_at  timestamptz not null,
    event_id       text collate "C" not null,         -- the identify event
    run_date       date not null                      -- run that first loaded it
);
create index if not exists identities_contact on journeyflow.identities (contact_id);

-- The earliest event of the contact or of any anonymous id linked to it, as of the run.
alter table journeyflow.contact_facts
    add column if not exists first_touch_at timestamptz,
    add column if not exists anonymous_ids integer not null default 0,
    add column if not exists erased boolean not null default false;  -- forgotten on request

-- Seed 002: days from first touch (not sign-up) to first order, by the month of first touch.
alter table journeyflow.report_cohorts rename column signup_month to first_touch_month;

-- The funnel starts with the flybys: anonymous ids seen in the 30 days before T, never identified.
comment on column journeyflow.report_funnel.stage is 'flyby | known | customer | regular';

-- A forgotten person (GDPR Art. 17): their rows keep a pseudonym instead of the contact id and
-- lose every personal value; what stays is a keyed hash (HMAC-SHA256) of the contact id and of
-- the email, so that a later import of the same person is never stored or mailed again.
create table if not exists journeyflow.erasures (
    erasure_id    bigserial primary key,
    pseudonym     text collate "C" not null unique,   -- what the rows of the person now carry
    id_hash       text not null unique,               -- hex HMAC of the contact id
    email_hash    text,                               -- hex HMAC of the lower-cased email
    key_id        text not null,                      -- which erasure key made the hashes
    requested_by  text not null,                      -- erasure_request event <id> | cli
    requested_at  timestamptz not null,
    erased_at     timestamptz not null default now(),
    counts        jsonb not null default '{}'         -- rows scrubbed per table, files per kind
);
create index if not exists erasures_email on journeyflow.erasures (email_hash);

alter table journeyflow.contacts add column if not exists erased_at timestamptz;

-- Free text that may quote a person (reasons, errors, diagnostics): each of their values becomes
-- '[erased]'. Case-sensitive, as the values were stored; callers pass each spelling they know.
create or replace function journeyflow.scrub(value text, personal text[]) returns text
language plpgsql immutable as $$
declare
    p text;
begin
    if value is null or personal is null then
        return value;
    end if;
    foreach p in array personal loop
        if p is not null and p <> '' then
            value := replace(value, p, '[erased]');
        end if;
    end loop;
    return value;
end
$$;

-- HMAC-SHA256 of a text with a key prepared by the caller (key XOR ipad, key XOR opad; RFC
-- 2104), hex: the keyed hashes of erasures, computed where the rows are.
create or replace function journeyflow.keyed_hash(value text, ikey bytea, okey bytea)
returns text language sql immutable parallel safe as $$
    select encode(sha256(okey || sha256(ikey || convert_to(value, 'UTF8'))), 'hex')
$$;
