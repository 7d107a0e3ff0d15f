-- The cockpit: seed 000's funnel per run date, and the indexes its pages read by contact.

create table if not exists journeyflow.report_funnel (
    run_date  date not null,
    stage     text not null,                    -- known | customer | regular
    people    bigint not null,
    primary key (run_date, stage)
);

-- Stable read model: the funnel as of D, stage by stage.
create or replace view journeyflow.v_funnel as
select run_date, stage, people
from journeyflow.report_funnel;

-- The contact page: one contact's facts, decisions and phase history without a scan.
-- (merge drops and rebuilds events_contact around the first bulk load, as the primary key.)
create index if not exists events_contact on journeyflow.events (contact_id);
create index if not exists campaign_decisions_contact
    on journeyflow.campaign_decisions (contact_id);
create index if not exists contacts_email_lower on journeyflow.contacts (lower(email));

-- Decisions of D by outcome and reason, fast on a million contacts. A held or excluded decision
-- never changes after decide, so decide counts those once (decision_counts, same transaction);
-- a queued one follows its outbox row (sent, bounced, in doubt, ...), so it is read live.
create table if not exists journeyflow.decision_counts (
    run_date  date not null,
    campaign  text not null,
    step      integer not null,
    channel   text not null,
    decision  text not null,
    reason    text not null,
    contacts  bigint not null,
    primary key (run_date, campaign, step, channel, decision, reason)
);
insert into journeyflow.decision_counts
select run_date, campaign, step, channel, decision, reason, count(*)
from journeyflow.campaign_decisions
where decision <> 'queued'
group by 1, 2, 3, 4, 5, 6
on conflict do nothing;

create index if not exists campaign_decisions_queued
    on journeyflow.campaign_decisions (run_date) where decision = 'queued';

-- A queued decision as its message stands now.
create or replace view journeyflow.queued_decisions as
select
    d.run_date,
    d.contact_id,
    d.campaign,
    d.step,
    d.channel,
    case
        when o.status is null then d.decision
        when o.status in ('queued', 'claimed', 'sending') then 'queued'
        when o.status in ('cancelled', 'household') then 'excluded'
        else o.status
    end as decision,
    case
        when o.status is null then d.reason
        when o.status = 'in_doubt' then 'sender stopped after SMTP accepted it: check and resolve'
        when o.status in ('bounced', 'failed', 'cancelled', 'household')
            then coalesce(o.last_error, o.status)
        else d.reason
    end as reason
from journeyflow.campaign_decisions d
left join journeyflow.outbox o
    on o.contact_id = d.contact_id and o.campaign = d.campaign
    and o.step = d.step and o.occurrence = d.occurrence
where d.decision = 'queued';

-- Stable read model, same rows as before: held and excluded as decided, queued as sent since.
create or replace view journeyflow.v_campaign_decisions as
select run_date, contact_id, campaign, step, channel, decision, reason
from journeyflow.campaign_decisions
where decision <> 'queued'
union all
select run_date, contact_id, campaign, step, channel, decision, reason
from journeyflow.queued_decisions;

-- v_campaign_decisions counted by run date, campaign, step, channel, outcome and reason.
create or replace view journeyflow.decision_outcomes as
select run_date, campaign, step, channel, decision, reason, contacts
from journeyflow.decision_counts
union all
select run_date, campaign, step, channel, decision, reason, count(*)
from journeyflow.queued_decisions
group by 1, 2, 3, 4, 5, 6;

-- What needs a person (messages in doubt) and what a run quarantined, without a scan of tables
-- that only grow.
create index if not exists outbox_in_doubt
    on journeyflow.outbox (campaign, run_date) where status = 'in_doubt';
create index if not exists quarantine_first_run on journeyflow.quarantine (first_run_date);
