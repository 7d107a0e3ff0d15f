-- Results summed over run dates, per campaign, step and variant (journeyflow results, the
-- cockpit's Results page): contacts, conversions, revenue, and how many run dates are still open.
select
    campaign, step, variant,
    cast(sum(contacts) as bigint) as contacts,
    cast(sum(converted) as bigint) as converted,
    sum(revenue) as revenue,
    min(run_date) as first_run_date,
    max(run_date) as last_run_date,
    count(*) filter (where window_open) as open_dates
from journeyflow.campaign_results
where (cast(:campaign as text) is null or campaign = :campaign)
  and run_date <= :d
group by campaign, step, variant
order by campaign, step, variant = 'holdout', variant
