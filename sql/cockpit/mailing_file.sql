-- One mailing's kept CSV (the bytes the vendor received).
select csv, file_name
from journeyflow.postal_exports
where run_date = :d and campaign = :campaign
