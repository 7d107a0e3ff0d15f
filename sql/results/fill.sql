-- Results per campaign, step, variant and run date: the contacts a message reached (or the
-- holdout kept), how many of them bought within the attribution window, and what they spent.
-- The window of run date D starts at its cut-off T(D) (the start of D+1 in the timezone) and
-- lasts :days days; purchases are counted up to the current run's cut-off, at most to its end.
insert into journeyflow.campaign_results
with dates as (
    select
        run_date,
        cast(run_date + 1 as timestamp) at time zone :tz as window_start,
        cast(run_date + 1 + :days as timestamp) at time zone :tz as window_end
    from unnest(cast(:dates as date[])) as run_date
),

members as (
    select
        o.campaign, o.step, coalesce(o.variant, 'main') as variant, o.run_date, o.contact_id,
        d.window_start, d.window_end,
        least(d.window_end, cast(:cutoff as timestamptz)) as counted_until
    from journeyflow.outbox o
    join dates d using (run_date)
    where o.status = any(:members)
),

purchases as (  -- only the purchases any of the windows can hold
    select e.contact_id, e.occurred_at, e.amount
    from journeyflow.events e
    where e.type = 'purchase'
      and e.occurred_at >= (select min(window_start) from dates)
      and e.occurred_at < cast(:cutoff as timestamptz)
),

bought as (
    select m.campaign, m.step, m.variant, m.run_date, m.contact_id,
           coalesce(sum(p.amount), 0) as revenue
    from members m
    join purchases p
      on p.contact_id = m.contact_id
     and p.occurred_at >= m.window_start
     and p.occurred_at < m.counted_until
    group by 1, 2, 3, 4, 5
)

select
    m.campaign, m.step, m.variant, m.run_date,
    count(*) as contacts,
    count(b.contact_id) as converted,
    coalesce(sum(b.revenue), 0) as revenue,
    min(m.window_start), min(m.window_end), min(m.counted_until),
    min(m.window_end) > cast(:cutoff as timestamptz) as window_open
from members m
left join bought b using (campaign, step, variant, run_date, contact_id)
group by m.campaign, m.step, m.variant, m.run_date
