-- The decisions of this run by campaign, channel, decision and reason.
select campaign, channel, decision, reason, count(*)
from decided
group by 1, 2, 3, 4
order by 1, 3, 5 desc
