-- The mailings a person is in: as a piece, as a household duplicate left out, or as a reject.
select p.run_date, p.campaign, p.delivered_at is not null as delivered, p.pieces, p.households
from journeyflow.postal_exports p
where p.pieces && cast(:ids as bigint[])
   or p.households && cast(:ids as bigint[])
   or exists (
       select from journeyflow.postal_rejects r
       where r.run_date = p.run_date and r.campaign = p.campaign and r.contact_id = :contact_id
   )
order by p.run_date, p.campaign
