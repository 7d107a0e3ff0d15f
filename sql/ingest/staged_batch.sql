-- The extracts in staging: one row per stream.
select stream, run_date, since, pages, records, staged, quarantined
from journeyflow_staging.batch
