-- Rows left out of the mailing of a date (with those of earlier builds of the date).
select contact_id, reason
from journeyflow.postal_rejects
where run_date = :run_date and campaign = :campaign
order by contact_id
