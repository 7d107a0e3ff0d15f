-- The sender shards ("<campaign>/<shard>") that hold claimed or sending emails of a campaign.
select distinct split_part(claimed_by, '|', 1) as owner
from journeyflow.outbox
where campaign = :campaign and channel = 'email' and status in ('claimed', 'sending')
  and claimed_by is not null
