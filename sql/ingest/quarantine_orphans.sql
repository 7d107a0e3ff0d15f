-- Staged events whose contact is neither in the warehouse nor in this batch go to quarantine
-- (not an erasure request: whoever asks is forgotten, also before we know them).
with orphans as (
    delete from journeyflow_staging.events e
    where e.contact_id is not null  -- an anonymous visitor's event is kept, not an orphan
      and e.type <> 'erasure_request'  -- asked to be forgotten: done by the merge, known or not
      and not exists (select from journeyflow.contacts c where c.contact_id = e.contact_id)
      and not exists (
          select from journeyflow_staging.contacts s where s.contact_id = e.contact_id
      )
    returning e.*
),

as_json as (
    select
        event_id,
        jsonb_strip_nulls(jsonb_build_object(
            'id', event_id, 'contact_id', contact_id, 'anonymous_id', anonymous_id, 'type', type,
            'occurred_at', occurred_at
        )) || jsonb_build_object('properties', properties) as raw
    from orphans
),

kept as (
    insert into journeyflow.quarantine
        (stream, record_id, reason, raw, raw_hash, first_run_date)
    select 'events', event_id, 'unknown contact_id', raw, md5(raw::text), :d
    from as_json
    on conflict (stream, raw_hash) do nothing
    returning 1
)

select (select count(*) from orphans) as orphans
