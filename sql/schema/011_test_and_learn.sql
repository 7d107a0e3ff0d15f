-- Test and learn: holdouts (decision and outbox state held_out, no message), variants per step,
-- conversions attributed to the messages of a run date, and win-back response by months since
-- the last order.
alter table journeyflow.outbox drop constraint outbox_status_known;
alter table journeyflow.outbox
    add constraint outbox_status_known check (status in (
        'queued', 'claimed', 'sending', 'sent', 'exported', 'household', 'in_doubt', 'bounced',
        'failed', 'cancelled', 'held_out'
    )),
    add column if not exists variant text;  -- main, a variant of the step, or holdout

alter table journeyflow.campaign_decisions drop constraint campaign_decisions_decision_known;
alter table journeyflow.campaign_decisions
    add constraint campaign_decisions_decision_known check (
        decision in ('queued', 'held', 'excluded', 'held_out')
    ),
    add column if not exists variant text;

-- Per campaign, step, variant and run date: who got the message (or was held out), and how many
-- of them bought within the attribution window after the run date's cut-off. A window that has
-- not closed yet is counted as far as it goes (window_open); the nightly run finishes it later.
create table if not exists journeyflow.campaign_results (
    campaign        text not null,
    step            integer not null,
    variant         text not null,
    run_date        date not null,
    contacts        bigint not null,
    converted       bigint not null,
    revenue         numeric(16, 2) not null,
    window_start    timestamptz not null,
    window_end      timestamptz not null,
    counted_until   timestamptz not null,   -- purchases before this were looked at
    window_open     boolean not null,
    primary key (campaign, step, variant, run_date)
);

create or replace view journeyflow.v_campaign_results as
select campaign, step, variant, run_date, contacts, converted, revenue, window_open
from journeyflow.campaign_results;

-- Win-back response as of D: of the contacts a win-back message reached (or held out), by
-- whole months since their last order at the message's run date, how many bought within the
-- attribution window (closed windows only).
create table if not exists journeyflow.report_winback (
    run_date           date not null,
    months_since_order integer not null,
    grp                text not null,       -- reached | holdout
    contacts           bigint not null,
    converted          bigint not null,
    revenue            numeric(16, 2) not null,
    primary key (run_date, months_since_order, grp)
);
