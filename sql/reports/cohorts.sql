-- Seed 002: median days from first touch to first order, by the month of first touch, as of D.
-- First touch is the earliest event of a contact or of an anonymous visitor linked to it, or the
-- contact's creation when that was earlier (see contact_facts.first_touch_at).
insert into journeyflow.report_cohorts
    (run_date, first_touch_month, contacts, buyers, median_days_to_first_order)
select
    :d,
    date_trunc('month', first_touch_at at time zone :tz)::date,
    count(*),
    count(first_order_at),
    percentile_cont(0.5) within group (
        order by extract(epoch from first_order_at - first_touch_at) / 86400.0
    )
from journeyflow.contact_facts
group by 2
