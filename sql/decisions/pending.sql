-- Work for the campaign tasks of D: messages waiting in the outbox (any run date up to D),
-- letters of D, and postal mailings not yet delivered.
select campaign, channel, count(*)
from journeyflow.outbox
where run_date <= :d
  and (status in ('queued', 'claimed', 'sending')
       or (channel = 'postal' and run_date = :d and status <> 'held_out'))
group by 1, 2
union all
select campaign, 'postal', count(*)
from journeyflow.postal_exports
where run_date <= :d and delivered_at is null
group by 1
