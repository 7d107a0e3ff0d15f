-- The run dates up to D whose results are missing or still open: messages (or holdouts) of
-- those dates can still convert, or were only counted part of the way.
select distinct o.run_date
from journeyflow.outbox o
where o.run_date <= :d
  and o.status = any(:members)
  and not exists (
      select 1 from journeyflow.campaign_results r
      where r.run_date = o.run_date and not r.window_open
  )
order by 1
