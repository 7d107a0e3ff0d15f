-- The recorded mailings (of one date, or all), newest first, without their bytes.
select
    run_date, campaign, rows, sha256, run_id, marker_at, delivered_at,
    (select count(*) from journeyflow.postal_rejects r
     where r.run_date = e.run_date and r.campaign = e.campaign) as rejected
from journeyflow.postal_exports e
where cast(:run_date as date) is null or run_date = :run_date
order by run_date desc, campaign
