-- How many rows a stream's extract staged in the last runs before D, and their median.
select count(*) as runs, percentile_cont(0.5) within group (order by rows_out) as median
from (
    select rows_out
    from journeyflow.pipeline_steps
    where step = :step and run_date < :d
    order by run_date desc
    limit :n
) history
