-- The recorded mailing of a campaign and date, with its stored file bytes.
select run_date, campaign, run_id, file_name, rows, sha256, delivered_at, marker_at, csv,
       manifest, rejects_file, done, pieces, households
from journeyflow.postal_exports
where campaign = :campaign and run_date = :run_date
