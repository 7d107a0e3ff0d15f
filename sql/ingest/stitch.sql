-- Stitching: every staged identify links its anonymous id to its contact. The earliest identify
-- of a link sets identified_at (the run for D counts links identified before T); identifies that
-- named another contact were quarantined by the load.
insert into journeyflow.identities (anonymous_id, contact_id, identified_at, event_id, run_date)
select distinct on (anonymous_id) anonymous_id, contact_id, occurred_at, event_id, :d
from journeyflow_staging.events
where type = 'identify' and contact_id is not null and anonymous_id is not null
order by anonymous_id, occurred_at, event_id
on conflict (anonymous_id) do update
set identified_at = excluded.identified_at, event_id = excluded.event_id
where journeyflow.identities.contact_id = excluded.contact_id
  and excluded.identified_at < journeyflow.identities.identified_at
