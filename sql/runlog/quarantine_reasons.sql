-- Records first quarantined by the run of D, by stream and reason.
select stream, reason, count(*) as records
from journeyflow.quarantine
where first_run_date = :d
group by 1, 2
order by 1, 3 desc, 2
