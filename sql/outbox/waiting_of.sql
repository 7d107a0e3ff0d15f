-- Emails of one campaign a sender of D will try (the total of its progress bar).
select count(*)
from journeyflow.outbox
where campaign = :campaign and channel = 'email' and run_date <= :d
  and status in ('queued', 'claimed')
