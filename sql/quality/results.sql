-- The recorded verdict of D, check by check.
select check_name, table_name, column_name, expectation, severity, verdict, element_count,
       unexpected_count, unexpected_percent, min_valid, observed_value, description
from journeyflow.validation_results
where run_date = :d
order by check_name
