-- phase: subscription
-- rule: Subscribers without an order who confirmed their double opt-in in the last 14 days.
select contact_id
from facts
where order_count = 0
  and email_ok
  and consent_confirmed_at >= :cutoff - make_interval(days => :subscription_days)
