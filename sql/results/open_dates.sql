-- The run dates whose results the run of D counts: every date whose attribution window is open
-- at D's cut-off or closes with it (D - attribution_days .. D), and every date an earlier run
-- left open (a replay of an older date).
select distinct o.run_date
from journeyflow.outbox o
where o.run_date between cast(:d as date) - :days and :d
  and o.status = any(:members)
union
select run_date
from journeyflow.campaign_results
where window_open and run_date <= :d
order by 1
