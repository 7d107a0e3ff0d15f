-- The quality gate's checks of D: failed first, then warnings, then passed.
select check_name as check, severity, verdict, coalesce(unexpected_count, 0) as bad_rows,
       element_count as rows, verdict = 'passed' as passed, description
from journeyflow.validation_results
where run_date = :d
order by array_position(array['failed', 'warning', 'passed'], verdict), check_name
