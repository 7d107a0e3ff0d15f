-- Win-back response as of D (seed 002: "when is it no longer worth it?"): the contacts a
-- win-back message reached, and its holdout, by whole months (30.44 days) since their last order
-- at the message's cut-off, and how many bought within the attribution window. Closed windows
-- only, so a month's rate does not move once it is shown.
insert into journeyflow.report_winback
    (run_date, months_since_order, grp, contacts, converted, revenue)
with msgs as (
    select
        o.contact_id,
        case when o.status = 'held_out' then 'holdout' else 'reached' end as grp,
        cast(o.run_date + 1 as timestamp) at time zone :tz as t0,
        cast(o.run_date + 1 + :days as timestamp) at time zone :tz as t1
    from journeyflow.outbox o
    where o.campaign = :campaign
      and o.status = any(:members)
      and o.run_date + :days <= :d
),

judged as (
    select
        m.grp,
        (select max(e.occurred_at) from journeyflow.events e
         where e.contact_id = m.contact_id and e.type = 'purchase' and e.occurred_at < m.t0)
            as last_order_at,
        (select sum(coalesce(e.amount, 0)) from journeyflow.events e
         where e.contact_id = m.contact_id and e.type = 'purchase'
           and e.occurred_at >= m.t0 and e.occurred_at < m.t1) as revenue,
        m.t0
    from msgs m
)

select
    :d,
    coalesce(floor(extract(epoch from t0 - last_order_at) / 86400 / 30.44), -1),
    grp,
    count(*),
    count(revenue),
    coalesce(sum(revenue), 0)
from judged
group by 2, 3
