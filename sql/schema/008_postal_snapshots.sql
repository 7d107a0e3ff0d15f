-- A built mailing is final: its files are kept with it, so a retry or rerun delivers exactly
-- these bytes, whatever changed in the contact data since. Its pieces are marked exported when it
-- is built (before delivery), household duplicates get the outbox status 'household'.
alter table journeyflow.postal_exports
    add column if not exists csv bytea,
    add column if not exists manifest bytea,
    add column if not exists rejects_file bytea,
    add column if not exists done bytea,
    add column if not exists pieces bigint[],       -- the outbox rows in the file
    add column if not exists households bigint[],   -- rows left out as household duplicates
    add column if not exists marker_at timestamptz; -- set just before the .done marker goes up

-- Undelivered builds of earlier versions kept no files, and their outbox rows are still queued:
-- the next export builds them again.
delete from journeyflow.postal_exports where delivered_at is null and csv is null;

-- Stable read model: a household duplicate shows as excluded with the contact that got the piece.
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
        when o.status in ('cancelled', 'household') then 'excluded'
        else o.status
    end as decision,
    case
        when d.decision <> 'queued' or o.status is null then d.reason
        when o.status = 'in_doubt' then 'sender stopped after SMTP accepted it: check and resolve'
        when o.status in ('bounced', 'failed', 'cancelled', 'household')
            then coalesce(o.last_error, o.status)
        else d.reason
    end as reason
from journeyflow.campaign_decisions d
left join journeyflow.outbox o
    on o.contact_id = d.contact_id and o.campaign = d.campaign
    and o.step = d.step and o.occurrence = d.occurrence;
