-- Recorded mailings of a campaign before a date that were never delivered, oldest first.
select run_date, campaign, run_id, file_name, rows, sha256, delivered_at, marker_at, csv,
       manifest, rejects_file, done, pieces, households
from journeyflow.postal_exports
where campaign = :campaign and run_date < :run_date and delivered_at is null
order by run_date
