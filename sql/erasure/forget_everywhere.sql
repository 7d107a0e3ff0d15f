-- What names forgotten people in everyone's rows, once for all of them (:ids with their
-- :pseudonyms, :distinctive their email addresses): referrals naming them by id, and any
-- event's properties quoting an address (this reads every event: forget is rare).
with forgotten as (
    select * from unnest(cast(:ids as text[]), cast(:pseudonyms as text[])) f (id, pseudonym)
)
update journeyflow.events e
set referred_contact_id = f.pseudonym,
    properties = case
        when e.properties ? 'referred_contact_id'
            then jsonb_set(e.properties, '{referred_contact_id}', to_jsonb(f.pseudonym))
        else e.properties
    end
from forgotten f
where e.type = 'referral' and (e.referred_contact_id = f.id
                               or e.properties ->> 'referred_contact_id' = f.id);

update journeyflow.events
set properties = cast(journeyflow.scrub(properties::text, :distinctive) as jsonb)
where cardinality(cast(:distinctive as text[])) > 0 and properties <> '{}'
  and exists (
      select from unnest(cast(:distinctive as text[])) p where position(p in properties::text) > 0
  );

update journeyflow.anonymous_events
set properties = cast(journeyflow.scrub(properties::text, :distinctive) as jsonb)
where cardinality(cast(:distinctive as text[])) > 0 and properties <> '{}'
  and exists (
      select from unnest(cast(:distinctive as text[])) p where position(p in properties::text) > 0
  );

update journeyflow_staging.events
set properties = cast(journeyflow.scrub(properties::text, :distinctive) as jsonb)
where cardinality(cast(:distinctive as text[])) > 0 and properties <> '{}'
  and exists (
      select from unnest(cast(:distinctive as text[])) p where position(p in properties::text) > 0
  );

update journeyflow_staging.events s
set properties = jsonb_set(s.properties, '{referred_contact_id}', to_jsonb(f.pseudonym))
from unnest(cast(:ids as text[]), cast(:pseudonyms as text[])) f (id, pseudonym)
where s.properties ->> 'referred_contact_id' = f.id
