-- People forgotten earlier whom the source sends again (the same contact id, or the same email
-- under an id the warehouse does not hold) are not stored again: their staged contact rows and events leave the batch, and
-- one quarantine row per record says why without a personal value. Their events are found among
-- the events of contacts the warehouse does not know (the forgotten one carries a pseudonym).
with hashed as materialized (
    select
        contact_id,
        journeyflow.keyed_hash('id:' || contact_id, :ikey, :okey) as id_hash,
        case when nullif(btrim(email), '') is not null
            then journeyflow.keyed_hash('email:' || lower(btrim(email)), :ikey, :okey)
        end as email_hash
    from journeyflow_staging.contacts
),

matched as (
    select contact_id, min(pseudonym) as pseudonym
    from (
        select h.contact_id, e.pseudonym
        from hashed h join journeyflow.erasures e using (id_hash)
        union all  -- the address under a new id (a contact the warehouse holds keeps its updates)
        select h.contact_id, e.pseudonym
        from hashed h join journeyflow.erasures e using (email_hash)
        where not exists (select from journeyflow.contacts c where c.contact_id = h.contact_id)
    ) m
    group by contact_id
),

unknown as (  -- contact ids of staged events that neither the warehouse nor the batch knows
    select distinct x.contact_id
    from journeyflow_staging.events x
    where x.contact_id is not null
      and not exists (select from journeyflow.contacts c where c.contact_id = x.contact_id)
      and not exists (
          select from journeyflow_staging.contacts s where s.contact_id = x.contact_id
      )
),

owners as (
    select contact_id, pseudonym from matched
    union
    select u.contact_id, e.pseudonym
    from unknown u
    join journeyflow.erasures e
        on e.id_hash = journeyflow.keyed_hash('id:' || u.contact_id, :ikey, :okey)
),

contacts_gone as (
    delete from journeyflow_staging.contacts s
    using matched m
    where s.contact_id = m.contact_id
    returning m.pseudonym
),

events_gone as (
    delete from journeyflow_staging.events ev
    using owners o
    where ev.contact_id = o.contact_id
    returning ev.event_id, o.pseudonym
),

quarantined as (  -- malformed records of theirs that the extract of this run quarantined
    select q.quarantine_id, e.pseudonym
    from journeyflow.quarantine q
    join journeyflow.erasures e
        on e.id_hash = journeyflow.keyed_hash(
            'id:' || coalesce(q.raw ->> 'contact_id', q.record_id), :ikey, :okey)
    where q.first_run_date = :d and (q.stream = 'contacts' or q.raw ? 'contact_id')
      and coalesce(q.raw ->> 'contact_id', q.record_id) is not null
    union
    select q.quarantine_id, e.pseudonym
    from journeyflow.quarantine q
    join journeyflow.erasures e
        on e.email_hash = journeyflow.keyed_hash(
            'email:' || lower(btrim(q.raw ->> 'email')), :ikey, :okey)
    where q.first_run_date = :d and q.stream = 'contacts'
      and nullif(btrim(q.raw ->> 'email'), '') is not null
),

scrubbed as (
    update journeyflow.quarantine q
    set record_id = x.pseudonym, reason = :reason,
        raw = jsonb_build_object('erased', x.pseudonym),
        raw_hash = md5(x.pseudonym || ':' || q.quarantine_id)
    from quarantined x
    where q.quarantine_id = x.quarantine_id
    returning 1
),

kept as (
    insert into journeyflow.quarantine (stream, record_id, reason, raw, raw_hash, first_run_date)
    select stream, pseudonym, :reason, raw, md5(raw::text), :d
    from (
        select 'contacts' as stream, pseudonym, jsonb_build_object('erased', pseudonym) as raw
        from contacts_gone
        union all
        select 'events', pseudonym, jsonb_build_object('erased', pseudonym, 'event', event_id)
        from events_gone
    ) x
    on conflict (stream, raw_hash) do nothing
    returning 1
)

select (select count(*) from contacts_gone) + (select count(*) from events_gone)
       + (select count(*) from scrubbed) as records
