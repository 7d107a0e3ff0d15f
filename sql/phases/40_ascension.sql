-- phase: ascension
-- rule: Customers whose first order is more than 30 days old.
select contact_id
from facts
where order_count >= 1
  and first_order_at < :cutoff - make_interval(days => :ascension_first_order_days)
