-- phase: conversion
-- rule: Subscribers without an order who confirmed their double opt-in more than 14 days ago.
select contact_id
from facts
where order_count = 0
  and email_ok
  and consent_confirmed_at < :cutoff - make_interval(days => :subscription_days)
