-- Unsubscribes by campaign (the link's campaign) in the 7 days up to the end of D.
select coalesce(campaign, '') as campaign, count(*) as contacts
from journeyflow.suppressions
where reason = 'unsubscribe_link'
  and created_at >= (cast(:d as date) - 6)::timestamp at time zone :tz
  and created_at < (cast(:d as date) + 1)::timestamp at time zone :tz
group by 1
order by 1
