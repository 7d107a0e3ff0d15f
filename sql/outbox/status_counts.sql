-- Outbox rows by campaign, channel and status (of D, or all).
select campaign, channel, status, count(*)
from journeyflow.outbox
where cast(:d as date) is null or run_date = :d
group by 1, 2, 3
order by 1, 2, 3
