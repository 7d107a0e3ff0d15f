-- Campaigns: one decision per candidate per run, the outbox that makes sending exactly-once,
-- and suppressions (unsubscribe link, hard bounce) that every later run honours.

-- Facts the campaigns need besides the phase flags.
alter table journeyflow.contact_facts
    add column if not exists last_product text,
    add column if not exists email_block text;        -- why email_ok is false (null when true)

-- One row per candidate (contact in a campaign's audience) per campaign per run date.
create table if not exists journeyflow.campaign_decisions (
    run_date    date not null,
    contact_id  text collate "C" not null,
    campaign    text not null,
    step        integer not null,
    channel     text not null,                  -- email | postal
    decision    text not null,                  -- queued | held | excluded
    reason      text not null,
    occurrence  integer,                        -- set when queued
    primary key (run_date, campaign, contact_id)
);

-- Every message a run decided to send. (contact_id, campaign, step, occurrence) is the
-- idempotency key: a rerun of D finds its rows and never queues them twice.
-- status: queued -> claimed (a sender took it) -> sending (handed to SMTP) -> sent,
--         or bounced (5xx), failed (gave up), in_doubt (sender died after handing it to SMTP),
--         cancelled (a rerun of D no longer chose it); postal rows: queued -> exported.
create table if not exists journeyflow.outbox (
    outbox_id        bigserial primary key,
    contact_id       text collate "C" not null,
    campaign         text not null,
    step             integer not null,
    occurrence       integer not null,
    channel          text not null,
    run_date         date not null,
    status           text not null default 'queued',
    message_id       text,
    recipient        text,
    message          text,                      -- the rendered RFC 5322 message (ASCII)
    attempts         integer not null default 0,
    next_attempt_at  timestamptz,
    last_error       text,
    created_at       timestamptz not null default now(),
    claimed_at       timestamptz,
    sent_at          timestamptz,
    unique (contact_id, campaign, step, occurrence)
);
create index if not exists outbox_pending
    on journeyflow.outbox (campaign, outbox_id) where status in ('queued', 'claimed', 'sending');
create index if not exists outbox_run_date on journeyflow.outbox (run_date);

-- Addresses that must not be mailed again. address '' means every address of the contact.
create table if not exists journeyflow.suppressions (
    contact_id  text collate "C" not null,
    channel     text not null,                  -- email | postal
    address     text not null default '',       -- lower-cased email a bounce applies to
    reason      text not null,                  -- unsubscribe_link | hard_bounce
    campaign    text,
    detail      text,
    created_at  timestamptz not null default now(),
    primary key (contact_id, channel, address)
);

-- Stable read model: one row per candidate per run, with the outcome once the sender has run.
create or replace view journeyflow.v_campaign_decisions as
select
    d.run_date,
    d.contact_id,
    d.campaign,
    d.step,
    d.channel,
    case
        when d.decision <> 'queued' or o.status is null then d.decision
        when o.status in ('queued', 'claimed', 'sending') then 'queued'
        when o.status = 'cancelled' then 'excluded'
        else o.status
    end as decision,
    case
        when d.decision <> 'queued' or o.status is null then d.reason
        when o.status = 'in_doubt' then 'sender stopped after SMTP accepted it: check and resolve'
        when o.status in ('bounced', 'failed', 'cancelled') then coalesce(o.last_error, o.status)
        else d.reason
    end as reason
from journeyflow.campaign_decisions d
left join journeyflow.outbox o
    on o.contact_id = d.contact_id and o.campaign = d.campaign
    and o.step = d.step and o.occurrence = d.occurrence;
