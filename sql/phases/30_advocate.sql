-- phase: advocate
-- rule: Customers with at least 3 orders and at least one review, whose reviews average 4 or more and none is 2 or lower.
select contact_id
from facts
where order_count >= :advocate_min_orders
  and avg_rating >= :advocate_min_avg_rating
  and min_rating > :advocate_bad_rating
