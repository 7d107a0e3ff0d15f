-- What a night adds to the kept behaviour of each contact (the temporary table delta, one row per
-- contact): the events that are new since the night it is of (cut-off :since) and happened before
-- T, those that happened between the two cut-offs, and the points of those that left the score
-- window. The added events' ids are taken from journeyflow.behaviour_added. A linked visitor's
-- events count for its contact when the link is older than :since (newer links: a recompute).
create temp table delta on commit drop as
with bounds as (
    select
        cast(:since as timestamptz) as since,
        cast(:cutoff as timestamptz) as cutoff,
        cast(:since as timestamptz) - make_interval(days => :score_window_days) as left_since,
        cast(:cutoff as timestamptz) - make_interval(days => :score_window_days) as score_since
),

taken as (  -- an id can be listed twice (inserted, deleted, inserted again): read it once
    delete from journeyflow.behaviour_added returning event_id, anonymous, occurred_at
),

late as (  -- the added ones that happened before the last cut-off
    select distinct t.event_id, t.anonymous
    from taken t, bounds b
    where t.occurred_at < b.since
),

points as (
    select key as type, value::double precision as points
    from jsonb_each_text(cast(:score_points as jsonb))
),

linked as (
    select i.anonymous_id, i.contact_id
    from journeyflow.identities i, bounds b
    where i.identified_at < b.since
),

added as (  -- before T: happened since the last cut-off, or arrived since with an older time
    select e.contact_id, e.event_id, e.type, e.occurred_at, e.amount, e.channel, e.kind, e.product
    from journeyflow.events e, bounds b
    where e.occurred_at >= b.since and e.occurred_at < b.cutoff
    union all
    select e.contact_id, e.event_id, e.type, e.occurred_at, e.amount, e.channel, e.kind, e.product
    from late t
    join journeyflow.events e using (event_id)
    cross join bounds b
    where not t.anonymous and e.occurred_at < b.since
    union all
    select l.contact_id, a.event_id, a.type, a.occurred_at, a.amount, a.channel, a.kind, a.product
    from journeyflow.anonymous_events a
    join linked l using (anonymous_id)
    cross join bounds b
    where a.occurred_at >= b.since and a.occurred_at < b.cutoff
    union all
    select l.contact_id, a.event_id, a.type, a.occurred_at, a.amount, a.channel, a.kind, a.product
    from late t
    join journeyflow.anonymous_events a using (event_id)
    join linked l using (anonymous_id)
    cross join bounds b
    where t.anonymous and a.occurred_at < b.since
),

leaving as (  -- counted on the last night (before :since, not added since), now out of the
              -- window: only their points go, so only events worth points
    select e.contact_id, e.event_id, e.type, e.occurred_at
    from journeyflow.events e, bounds b
    where e.occurred_at >= b.left_since and e.occurred_at < b.score_since
      and e.occurred_at < b.since
      and e.type in (select p.type from points p)
      and e.event_id not in (
          select t.event_id from taken t, bounds b
          where not t.anonymous and t.occurred_at >= b.left_since and t.occurred_at < b.since
      )
    union all
    select l.contact_id, a.event_id, a.type, a.occurred_at
    from journeyflow.anonymous_events a
    join linked l using (anonymous_id)
    cross join bounds b
    where a.occurred_at >= b.left_since and a.occurred_at < b.score_since
      and a.occurred_at < b.since
      and a.type in (select p.type from points p)
      and a.event_id not in (
          select t.event_id from taken t, bounds b
          where t.anonymous and t.occurred_at >= b.left_since and t.occurred_at < b.since
      )
),

-- points * 2^((t - t0)/h), as in sql/facts/behaviour.sql; a leaving event shows only its points
weighted as (
    select
        x.contact_id, x.event_id, x.amount, x.channel, x.kind, x.product, x.gone,
        case when not x.gone then x.type end as type,
        case when not x.gone then x.occurred_at end as occurred_at,
        p.points * power(cast(2 as float8),
                         (date_part('epoch', x.occurred_at) - date_part('epoch', cast(:t0 as timestamptz)))
                         / (cast(86400 as float8) * :score_half_life_days)) as weight
    from (
        select a.*, false as gone from added a
        union all
        select l.contact_id, l.event_id, l.type, l.occurred_at, null, null, null, null, true
        from leaving l
    ) x
    left join points p using (type)
)

select
    contact_id,
    count(*) filter (where type = 'purchase') as order_count,
    min(occurred_at) filter (where type = 'purchase') as first_order_at,
    max(occurred_at) filter (where type = 'purchase') as last_order_at,
    coalesce(sum(amount) filter (where type = 'purchase'), 0) as revenue,
    coalesce(bool_or(type = 'review'), false) as reviews,
    max(occurred_at) filter (
        where type in ('page_view', 'comment', 'email_open', 'email_click')
    ) as last_engaged_at,
    max(occurred_at) filter (where type = 'referral') as last_referral_at,
    max(occurred_at) filter (where type in ('email_open', 'email_click')) as last_response_at,
    coalesce(sum(weight) filter (where occurred_at >= w.score_since), 0) as score_added,
    coalesce(sum(weight) filter (where gone), 0) as score_left,
    max(occurred_at) filter (where type = 'payment_overdue') as last_overdue_at,
    max(occurred_at) filter (where type = 'unsubscribe' and channel = 'email')
        as email_unsubscribed_at,
    max(occurred_at) filter (where type = 'email_bounce' and kind = 'hard') as hard_bounce_at,
    coalesce(bool_or(type = 'unsubscribe' and channel = 'postal'), false) as postal_unsubscribed,
    max(occurred_at) filter (where type = 'postal_return') as postal_returned_at,
    min(occurred_at) as first_event_at,
    (array_agg(product order by occurred_at, event_id)
        filter (where type = 'purchase'))[1] as first_product,
    (array_agg(product order by occurred_at desc, event_id desc)
        filter (where type = 'purchase'))[1] as last_product
from weighted
cross join bounds w
group by contact_id
