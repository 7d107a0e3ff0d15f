-- The quality gate: its verdict per check and run, and the row-level email flag it feeds.

create table if not exists journeyflow.validation_results (
    run_date           date not null,
    check_name         text not null,
    table_name         text not null,
    column_name        text,
    expectation        text not null,
    severity           text not null,          -- critical | warning
    verdict            text not null,          -- passed | warning | failed
    element_count      bigint,
    unexpected_count   bigint,
    unexpected_percent double precision,
    min_valid          double precision,
    observed_value     text,
    description        text not null,
    checked_at         timestamptz not null default now(),
    primary key (run_date, check_name)
);

-- Set by merge: the address passes the gate's email syntax check. A contact whose email fails
-- is stored (and counted by the gate) but never counts as reachable by email.
alter table journeyflow.contacts add column if not exists email_valid boolean not null default false;

-- Staging holds what came in; the gate, not a constraint, decides what may go on.
alter table journeyflow_staging.contacts
    alter column contact_id drop not null,
    alter column consent_status drop not null,
    alter column postal_opt_out drop not null,
    alter column created_at drop not null,
    alter column updated_at drop not null;
