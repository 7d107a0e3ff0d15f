-- The held and excluded decisions of D, counted once (they never change after decide).
insert into journeyflow.decision_counts
select run_date, campaign, step, channel, decision, reason, count(*)
from journeyflow.campaign_decisions
where run_date = :d and decision <> 'queued'
group by 1, 2, 3, 4, 5, 6
