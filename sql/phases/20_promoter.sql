-- phase: promoter
-- rule: Customers who referred someone in the last 365 days.
select contact_id
from facts
where order_count >= 1
  and last_referral_at >= :cutoff - make_interval(days => :promoter_referral_days)
