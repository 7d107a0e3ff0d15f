-- Median days from first contact to first order, by monthly signup cohort, as of D.
insert into journeyflow.report_cohorts
    (run_date, signup_month, contacts, buyers, median_days_to_first_order)
select
    :d,
    date_trunc('month', created_at at time zone :tz)::date,
    count(*),
    count(first_order_at),
    percentile_cont(0.5) within group (
        order by extract(epoch from first_order_at - created_at) / 86400.0
    )
from journeyflow.contact_facts
group by 2
