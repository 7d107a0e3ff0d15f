-- The anonymous visitors linked to one contact: when identified, their events before T, and
-- whether they count as of T (an identify at or after T waits for a later run).
select
    i.anonymous_id,
    i.identified_at,
    i.identified_at < :cutoff as counted,
    count(a.event_id) as events,
    min(a.occurred_at) as first_seen_at,
    max(a.occurred_at) as last_seen_at
from journeyflow.identities i
left join journeyflow.anonymous_events a
    on a.anonymous_id = i.anonymous_id and a.occurred_at < :cutoff
where i.contact_id = :contact_id
group by i.anonymous_id, i.identified_at
order by i.identified_at, i.anonymous_id
