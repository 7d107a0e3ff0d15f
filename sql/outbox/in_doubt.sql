-- Every message in doubt, oldest first.
select outbox_id, run_date, campaign, step, contact_id, message_id
from journeyflow.outbox
where status = 'in_doubt'
order by outbox_id
