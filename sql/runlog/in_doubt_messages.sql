-- Emails in doubt (a sender stopped between the server's acceptance and recording it), by
-- campaign and run date, with a few of their outbox ids.
select campaign, run_date, count(*) as messages, (array_agg(outbox_id order by outbox_id))[1:5] as ids
from journeyflow.outbox
where status = 'in_doubt'
group by campaign, run_date
order by run_date, campaign
