-- Suppress every address of a contact on a channel; true when the row is new.
insert into journeyflow.suppressions (contact_id, channel, address, reason, campaign)
values (:contact_id, :channel, '', :reason, :campaign)
on conflict (contact_id, channel, address) do nothing
returning 1
