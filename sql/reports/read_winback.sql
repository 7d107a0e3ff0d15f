-- The win-back response of D by months since the last order: reached and holdout side by side.
select
    months_since_order,
    coalesce(sum(contacts) filter (where grp = 'reached'), 0) as reached,
    coalesce(sum(converted) filter (where grp = 'reached'), 0) as reached_converted,
    coalesce(sum(contacts) filter (where grp = 'holdout'), 0) as holdout,
    coalesce(sum(converted) filter (where grp = 'holdout'), 0) as holdout_converted,
    sum(revenue) as revenue
from journeyflow.report_winback
where run_date = :d
group by months_since_order
order by months_since_order
