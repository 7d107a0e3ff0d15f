-- The cohort report of D.
select first_touch_month, contacts, buyers, median_days_to_first_order
from journeyflow.report_cohorts
where run_date = :d
order by 1
