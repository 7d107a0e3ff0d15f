-- ... and its address suppressed: no later run mails it.
insert into journeyflow.suppressions (contact_id, channel, address, reason, campaign, detail)
select contact_id, 'email', lower(recipient), 'hard_bounce', campaign, :detail
from journeyflow.outbox
where outbox_id = :id
on conflict do nothing
