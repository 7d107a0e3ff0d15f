-- The steps of D in the order they finished, with their counts.
select step, rows_in, rows_out, quarantined, seconds, details
from journeyflow.pipeline_steps
where run_date = :d
order by finished_at
