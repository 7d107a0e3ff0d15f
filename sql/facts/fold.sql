-- The night's additions (the temporary table delta, sql/facts/delta.sql) folded into the kept
-- behaviour of every contact that is not recomputed (not in scope): counts and sums add up, the
-- first and last times take the earlier and the later, the score sum gains the added points and
-- loses those that left the window.
update journeyflow.contact_behaviour b
set
    order_count = b.order_count + d.order_count,
    first_order_at = least(b.first_order_at, d.first_order_at),
    last_order_at = greatest(b.last_order_at, d.last_order_at),
    revenue = b.revenue + d.revenue,
    last_engaged_at = greatest(b.last_engaged_at, d.last_engaged_at),
    last_referral_at = greatest(b.last_referral_at, d.last_referral_at),
    last_response_at = greatest(b.last_response_at, d.last_response_at),
    score_sum = b.score_sum + d.score_added - d.score_left,
    last_overdue_at = greatest(b.last_overdue_at, d.last_overdue_at),
    email_unsubscribed_at = greatest(b.email_unsubscribed_at, d.email_unsubscribed_at),
    hard_bounce_at = greatest(b.hard_bounce_at, d.hard_bounce_at),
    postal_unsubscribed = b.postal_unsubscribed or d.postal_unsubscribed,
    postal_returned_at = greatest(b.postal_returned_at, d.postal_returned_at),
    first_event_at = least(b.first_event_at, d.first_event_at),
    first_product = case
        when b.first_order_at is null or d.first_order_at < b.first_order_at then d.first_product
        else b.first_product
    end,
    last_product = case
        when b.last_order_at is null or d.last_order_at > b.last_order_at then d.last_product
        else b.last_product
    end
from delta d
where d.contact_id = b.contact_id
  and not exists (select from pg_temp.scope s where s.contact_id = b.contact_id)
