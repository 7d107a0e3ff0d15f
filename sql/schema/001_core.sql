-- Core tables: contacts, events, extraction watermarks, pipeline runs, quarantine.
-- Ids are compared byte-wise (collate "C"): faster sorts and joins, and ids are not words.

create schema if not exists journeyflow;
create schema if not exists journeyflow_staging;

create table if not exists journeyflow.contacts (
    contact_id            text collate "C" primary key,
    email                 text,
    salutation            text,
    title                 text,
    first_name            text,
    last_name             text,
    company               text,
    street                text,
    house_number          text,
    postal_code           text,
    city                  text,
    country               text,
    language              text,
    birthday              date,
    consent_status        text not null default 'none',   -- confirmed | pending | none | revoked
    consent_confirmed_at  timestamptz,                     -- double-opt-in proof: when,
    consent_source        text,                            -- where (form, import, ...),
    consent_ip            text,                            -- from which address,
    consent_text          text,                            -- and the wording agreed to
    postal_opt_out        boolean not null default false,  -- objection to postal advertising
    created_at            timestamptz not null,
    updated_at            timestamptz not null,
    address_changed_at    timestamptz not null,            -- street/no./PLZ/city/country last changed
    first_run_date        date not null,
    changed_run_date      date not null                    -- run that last changed this row
);

create table if not exists journeyflow.events (
    event_id             text collate "C" primary key,
    contact_id           text collate "C" not null,
    type                 text not null,
    occurred_at          timestamptz not null,
    properties           jsonb not null default '{}',
    -- typed copies of the properties the rulebook reads
    order_id             text,
    amount               numeric(14, 2),
    currency             text,
    product              text,
    rating               smallint,
    referred_contact_id  text,
    channel              text,
    kind                 text,
    run_date             date not null                     -- run that first loaded it
);
-- No secondary index: the rules aggregate all events per contact in one scan, and a btree on
-- contact_id would cost a third of every nightly merge. Add one if you query single contacts a lot.

-- Incremental extraction: the newest source timestamp committed per stream.
create table if not exists journeyflow.watermarks (
    stream     text primary key,
    value      timestamptz not null,
    run_date   date not null
);

-- Malformed records, kept with the reason and the raw record; never silently dropped.
create table if not exists journeyflow.quarantine (
    quarantine_id   bigserial primary key,
    stream          text not null,
    record_id       text,
    reason          text not null,
    raw             jsonb not null,
    raw_hash        text not null,
    first_run_date  date not null,
    unique (stream, raw_hash)
);

-- One row per logical date, one per step of it: what ran, how much, how long.
create table if not exists journeyflow.pipeline_runs (
    run_date     date primary key,
    run_id       text,
    status       text not null,          -- running | success | failed
    started_at   timestamptz not null,
    finished_at  timestamptz,
    attempts     integer not null default 1,
    message      text
);

create table if not exists journeyflow.pipeline_steps (
    run_date     date not null,
    step         text not null,
    rows_in      bigint,
    rows_out     bigint,
    quarantined  bigint,
    seconds      double precision,
    details      jsonb not null default '{}',
    finished_at  timestamptz not null default now(),
    primary key (run_date, step)
);

-- Staging: the batch of the run in progress (one run at a time). Unlogged: rebuilt on retry.
create unlogged table if not exists journeyflow_staging.contacts (
    like journeyflow.contacts including defaults excluding constraints
);
alter table journeyflow_staging.contacts
    drop column if exists address_changed_at,
    drop column if exists first_run_date,
    drop column if exists changed_run_date;

-- The typed property columns are computed by PostgreSQL while it copies the page in.
create unlogged table if not exists journeyflow_staging.events (
    event_id             text collate "C",
    contact_id           text collate "C",
    type                 text,
    occurred_at          timestamptz,
    properties           jsonb,
    order_id             text generated always as (properties ->> 'order_id') stored,
    amount               numeric(14, 2) generated always as ((properties ->> 'amount')::numeric) stored,
    currency             text generated always as (properties ->> 'currency') stored,
    product              text generated always as (properties ->> 'product') stored,
    rating               smallint generated always as ((properties ->> 'rating')::smallint) stored,
    referred_contact_id  text generated always as (properties ->> 'referred_contact_id') stored,
    channel              text generated always as (properties ->> 'channel') stored,
    kind                 text generated always as (properties ->> 'kind') stored
);

create unlogged table if not exists journeyflow_staging.batch (
    stream     text primary key,
    run_date   date not null,
    since      timestamptz,
    pages      integer not null,
    records    bigint not null,
    staged     bigint not null,
    quarantined bigint not null
);
