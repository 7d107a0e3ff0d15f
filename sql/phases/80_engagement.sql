-- phase: engagement
-- rule: People without an order who cannot be emailed (no valid consent) but engage: score 10 or more.
select contact_id
from facts
where order_count = 0
  and not email_ok
  and score >= :score_warm_from
