-- phase: excitement
-- rule: Customers whose first order was in the last 30 days.
select contact_id
from facts
where order_count >= 1
