-- The newest source timestamp merged so far for a stream: the next pull starts there. A value
-- after the cut-off of the run that set it (plus future_grace_hours) comes back only as text,
-- with that bound: a record from the future moved it there (Python holds no year 10000).
select
    case when w.value < b.latest then w.value end as value,
    w.value::text as shown,
    b.latest::text as latest,
    w.run_date
from journeyflow.watermarks as w
cross join lateral (
    select ((w.run_date + 1)::timestamp at time zone :tz) + :grace * interval '1 hour' as latest
) as b
where w.stream = :s
