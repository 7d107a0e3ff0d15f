-- Postal mailings, newest first: pieces, rejects and whether the vendor has the file.
select e.campaign, e.run_date, e.rows as pieces,
       (select count(*) from journeyflow.postal_rejects r
        where r.run_date = e.run_date and r.campaign = e.campaign) as rejects,
       case
           when e.delivered_at is not null then 'delivered'
           when e.marker_at is not null then 'in_doubt'
           else 'pending'
       end as status,
       e.file_name, e.delivered_at, e.csv is not null as has_file
from journeyflow.postal_exports e
order by e.run_date desc, e.campaign
limit 500
