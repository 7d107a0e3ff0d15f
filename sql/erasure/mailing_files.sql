-- The stored files of one recorded mailing.
select csv, manifest, rejects_file, done
from journeyflow.postal_exports
where run_date = :run_date and campaign = :campaign
