-- After a merge: each stream's watermark moves to the newest merged timestamp, never back.
insert into journeyflow.watermarks as w (stream, value, run_date)
select stream, value, :d
from (
    select 'contacts' as stream, max(updated_at) as value from journeyflow_staging.contacts
    union all
    select 'events', max(occurred_at) from journeyflow_staging.events
) latest
where value is not null
on conflict (stream) do update set value = excluded.value, run_date = excluded.run_date
where excluded.value > w.value
