-- Postal mailings in doubt: the .done marker upload began but the delivery was never recorded.
select campaign, run_date
from journeyflow.postal_exports
where marker_at is not null and delivered_at is null
order by run_date, campaign
