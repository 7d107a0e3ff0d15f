-- A channel an audience query returned that journeyflow does not know (the first, with its count).
select channel, count(*) as contacts
from cand
where campaign = :campaign and channel is not null and channel <> all(:known)
group by channel
order by channel
limit 1
