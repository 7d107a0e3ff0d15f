-- An anonymous id belongs to at most one contact: its first identify (in the warehouse, else the
-- earliest of the batch) decides; a staged identify naming another contact goes to quarantine.
with staged as (
    select
        s.event_id, s.contact_id,
        coalesce(
            i.contact_id,
            first_value(s.contact_id) over (
                partition by s.anonymous_id order by s.occurred_at, s.event_id
            )
        ) as owner
    from journeyflow_staging.events s
    left join journeyflow.identities i using (anonymous_id)
    where s.type = 'identify'
),

conflicts as (
    delete from journeyflow_staging.events e
    using staged s
    where e.event_id = s.event_id and e.type = 'identify' and s.contact_id <> s.owner
    returning e.*
),

kept as (
    insert into journeyflow.quarantine
        (stream, record_id, reason, raw, raw_hash, first_run_date)
    select
        'events', event_id,
        'identify: the anonymous_id is already linked to another contact (one visitor, one '
        || 'contact)',
        raw, md5(raw::text), :d
    from (
        select
            event_id,
            jsonb_build_object(
                'id', event_id, 'contact_id', contact_id, 'anonymous_id', anonymous_id,
                'type', type, 'occurred_at', occurred_at, 'properties', properties
            ) as raw
        from conflicts
    ) j
    on conflict (stream, raw_hash) do nothing
    returning 1
)

select count(*) from conflicts
