-- What a run of D already handed out, per contact and campaign (a table, analyzed: on a rerun
-- it can hold a million rows).
create temp table out_today on commit drop as
select contact_id collate "C", campaign, min(step) as step, min(variant) as variant, count(*) as n
from journeyflow.outbox
where run_date = :d and status = any(:out)
group by contact_id, campaign
