-- phase: at_risk
-- rule: Customers whose last order is more than 180 days old and who have not engaged (page view, comment, email open or click) in the last 90 days.
select contact_id
from facts
where order_count >= 1
  and last_order_at < :cutoff - make_interval(days => :at_risk_last_order_days)
  and (last_engaged_at is null
       or last_engaged_at < :cutoff - make_interval(days => :at_risk_quiet_days))
