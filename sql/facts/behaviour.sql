-- What the events before T (:cutoff) say about each contact, in a form that does not depend on T
-- (journeyflow.contact_behaviour, see sql/schema/014): for every contact, for one (:only), or for
-- those in the temporary table scope. contact_facts.sql turns it into the facts as of T.
-- The linked visitors' events (identified before T) count as the contact's own.
-- lifecycle/facts.py writes each scope condition below out as the case needs (an `in` under an
-- `or` would filter every event instead of joining the scope's).
with bounds as (
    select :cutoff - make_interval(days => :score_window_days) as score_since
),

points as (
    select key as type, value::double precision as points
    from jsonb_each_text(cast(:score_points as jsonb))
),

who as (
    select c.contact_id
    from journeyflow.contacts c
    where (cast(:only as text) is null or c.contact_id = :only)
      and (not :some or c.contact_id in (select s.contact_id from pg_temp.scope s))
),

-- The CTEs read twice are not materialized: a materialized CTE keeps PostgreSQL from a parallel
-- plan, and it hashed the 23 M anonymous events instead of the 0.8 M links (2 M contacts: 93 s
-- instead of 47 s for everyone).
linked as not materialized (  -- visitors identified before T: their events are the contact's
    select i.contact_id, i.anonymous_id
    from journeyflow.identities i
    where i.identified_at < :cutoff
      and (cast(:only as text) is null or i.contact_id = :only)
      and (not :some or i.contact_id in (select s.contact_id from pg_temp.scope s))
),

linked_events as not materialized (  -- a linked visitor's events before T, earlier ones too
    select
        l.contact_id, a.event_id, a.type, a.occurred_at, a.amount, a.rating, a.channel, a.kind,
        a.product
    from linked l
    join journeyflow.anonymous_events a using (anonymous_id)
    where a.occurred_at < :cutoff
),

events as (
    select contact_id, event_id, type, occurred_at, amount, rating, channel, kind
    from journeyflow.events
    where occurred_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
      and (not :some or contact_id in (select s.contact_id from pg_temp.scope s))
    union all
    select contact_id, event_id, type, occurred_at, amount, rating, channel, kind
    from linked_events
),

purchases as (  -- first and last product, in one pass over the purchases
    select distinct
        contact_id,
        first_value(product) over w as first_product,
        last_value(product) over w as last_product
    from (  -- the tables again, not the union above (read twice, it would be written out)
        select contact_id, event_id, occurred_at, product
        from journeyflow.events
        where type = 'purchase' and occurred_at < :cutoff
          and (cast(:only as text) is null or contact_id = :only)
          and (not :some or contact_id in (select s.contact_id from pg_temp.scope s))
        union all
        select contact_id, event_id, occurred_at, product
        from linked_events
        where type = 'purchase'
    ) p
    window w as (
        partition by contact_id order by occurred_at, event_id
        rows between unbounded preceding and unbounded following
    )
),

visitors as (
    select contact_id, count(*) as anonymous_ids from linked group by contact_id
),

behaviour as (
    select
        contact_id,
        count(*) filter (where type = 'purchase') as order_count,
        min(occurred_at) filter (where type = 'purchase') as first_order_at,
        max(occurred_at) filter (where type = 'purchase') as last_order_at,
        coalesce(sum(amount) filter (where type = 'purchase'), 0) as revenue,
        avg(rating) filter (where type = 'review') as avg_rating,
        min(rating) filter (where type = 'review') as min_rating,
        max(occurred_at) filter (
            where type in ('page_view', 'comment', 'email_open', 'email_click')
        ) as last_engaged_at,
        max(occurred_at) filter (where type = 'referral') as last_referral_at,
        max(occurred_at) filter (where type in ('email_open', 'email_click')) as last_response_at,
        -- sum(points * 2^((t - t0)/h)), t0 the cut-off of the last full recompute: the facts
        -- multiply by 0.5^((T - t0)/h), which gives sum(points * 0.5^((T - t)/h))
        coalesce(sum(
            p.points * power(cast(2 as float8),
                             (date_part('epoch', occurred_at) - date_part('epoch', cast(:t0 as timestamptz)))
                             / (cast(86400 as float8) * :score_half_life_days))
        ) filter (where occurred_at >= w.score_since), 0) as score_sum,
        max(occurred_at) filter (where type = 'payment_overdue') as last_overdue_at,
        max(occurred_at) filter (where type = 'unsubscribe' and channel = 'email')
            as email_unsubscribed_at,
        max(occurred_at) filter (where type = 'email_bounce' and kind = 'hard') as hard_bounce_at,
        coalesce(bool_or(type = 'unsubscribe' and channel = 'postal'), false)
            as postal_unsubscribed,
        max(occurred_at) filter (where type = 'postal_return') as postal_returned_at,
        min(occurred_at) as first_event_at
    from events
    cross join bounds w
    left join points p using (type)
    group by contact_id
)

select
    who.contact_id,
    coalesce(b.order_count, 0) as order_count,
    b.first_order_at,
    b.last_order_at,
    coalesce(b.revenue, 0) as revenue,
    b.avg_rating,
    b.min_rating,
    b.last_engaged_at,
    b.last_referral_at,
    b.last_response_at,
    coalesce(b.score_sum, 0) as score_sum,
    b.last_overdue_at,
    b.email_unsubscribed_at,
    b.hard_bounce_at,
    coalesce(b.postal_unsubscribed, false) as postal_unsubscribed,
    b.postal_returned_at,
    b.first_event_at,
    pr.first_product,
    pr.last_product,
    coalesce(v.anonymous_ids, 0) as anonymous_ids
from who
left join behaviour b using (contact_id)
left join purchases pr using (contact_id)
left join visitors v using (contact_id)
