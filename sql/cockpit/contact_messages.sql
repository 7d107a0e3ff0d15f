-- A contact's messages (emails and letters), newest first.
select run_date, campaign, step, channel, status, sent_at, message_id, recipient
from journeyflow.outbox
where contact_id = :contact_id
order by run_date desc, campaign, step
limit 200
