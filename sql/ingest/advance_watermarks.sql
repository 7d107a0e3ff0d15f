-- After a merge: each stream's watermark moves to the newest merged timestamp that passes the
-- quality gate's plausibility rules, never back. :latest is T + future_grace_hours, :oldest is
-- oldest_event; a record dated outside them is merged but moves no watermark.
insert into journeyflow.watermarks as w (stream, value, run_date)
select stream, value, :d
from (
    select 'contacts' as stream, max(updated_at) as value
    from journeyflow_staging.contacts
    where updated_at < :latest
    union all
    select 'events', max(occurred_at)
    from journeyflow_staging.events
    where occurred_at >= :oldest and occurred_at < :latest
) latest
where value is not null
on conflict (stream) do update set value = excluded.value, run_date = excluded.run_date
where excluded.value > w.value
