-- The quality gate's checks of D, failed and warned first.
select check_name, verdict, severity, unexpected_count, observed_value
from journeyflow.validation_results
where run_date = :d
order by verdict = 'passed', check_name
