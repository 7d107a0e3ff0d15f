-- A hard bounce: the message is bounced and its address suppressed, together (both or
-- neither), so that no later run mails the address.
with bounced as (
    update journeyflow.outbox
    set status = 'bounced', last_error = :error
    where outbox_id = :id
    returning contact_id, recipient, campaign
)

insert into journeyflow.suppressions (contact_id, channel, address, reason, campaign, detail)
select contact_id, 'email', lower(recipient), 'hard_bounce', campaign, :detail
from bounced
on conflict do nothing
