-- Lifecycle: contact facts, phases with history, run reports, and the stable read models.

-- Facts per contact as of the last run's cut-off (replaced by every run; see sql/facts/).
create table if not exists journeyflow.contact_facts (
    contact_id        text collate "C" primary key,
    run_date          date not null,
    order_count       integer not null,
    first_order_at    timestamptz,
    last_order_at     timestamptz,
    revenue           numeric(16, 2) not null,
    first_product     text,
    avg_rating        numeric(4, 2),
    min_rating        smallint,
    last_engaged_at   timestamptz,
    last_referral_at  timestamptz,
    score             double precision not null,
    engagement_level  text not null,           -- cold | warm | hot
    email_ok          boolean not null,
    email_dead        boolean not null,
    postal_ok         boolean not null,
    bad_payer         boolean not null,
    bad_reviewer      boolean not null,
    consent_status    text,
    consent_confirmed_at timestamptz,
    created_at        timestamptz not null
);

-- Every campaign message, whatever the channel (filled by the campaigns; read by email_dead).
create table if not exists journeyflow.send_log (
    contact_id   text collate "C" not null,
    campaign     text not null,
    step         integer not null,
    channel      text not null,                -- email | postal
    occurrence   integer not null default 1,
    run_date     date not null,
    sent_at      timestamptz not null,
    primary key (contact_id, campaign, step, occurrence)
);

-- One row per stay of a contact in a phase; the open stay has left_run_date null.
create table if not exists journeyflow.phase_history (
    contact_id        text collate "C" not null,
    phase             text not null,
    entered_run_date  date not null,
    entered_at        timestamptz not null,
    left_run_date     date,
    left_at           timestamptz,
    previous_phase    text,
    primary key (contact_id, entered_run_date)
);
create index if not exists phase_history_open
    on journeyflow.phase_history (contact_id) where left_run_date is null;

create table if not exists journeyflow.phase_runs (
    run_date     date primary key,
    cutoff       timestamptz not null,
    contacts     bigint not null,
    transitions  bigint not null
);

create table if not exists journeyflow.phase_counts (
    run_date  date not null,
    phase     text not null,
    priority  integer not null,
    contacts  bigint not null,
    primary key (run_date, phase)
);

create table if not exists journeyflow.phase_transitions (
    run_date    date not null,
    from_phase  text not null,                 -- '(new)' for contacts without a phase before
    to_phase    text not null,
    contacts    bigint not null,
    primary key (run_date, from_phase, to_phase)
);

create table if not exists journeyflow.report_cohorts (
    run_date       date not null,
    signup_month   date not null,
    contacts       bigint not null,
    buyers         bigint not null,
    median_days_to_first_order double precision,
    primary key (run_date, signup_month)
);

create table if not exists journeyflow.report_clv (
    run_date             date not null,
    acquisition_product  text not null,
    customers            bigint not null,
    avg_revenue          numeric(16, 2) not null,
    total_revenue        numeric(18, 2) not null,
    primary key (run_date, acquisition_product)
);

create table if not exists journeyflow.report_engagement (
    run_date          date not null,
    engagement_level  text not null,
    contacts          bigint not null,
    primary key (run_date, engagement_level)
);

-- The stable read models (DESIGN.md). Internal tables may change; these keep their shape.
create or replace view journeyflow.v_contact_phase as
select h.contact_id, h.phase, h.entered_at, f.score, f.engagement_level
from journeyflow.phase_history h
join journeyflow.contact_facts f using (contact_id)
where h.left_run_date is null;

create or replace view journeyflow.v_contact_flags as
select contact_id, email_ok, email_dead, postal_ok, bad_payer, bad_reviewer, order_count
from journeyflow.contact_facts;

create or replace view journeyflow.v_phase_history as
select contact_id, phase, entered_at, left_at
from journeyflow.phase_history;

create or replace view journeyflow.v_phase_counts as
select run_date, phase, contacts
from journeyflow.phase_counts;
