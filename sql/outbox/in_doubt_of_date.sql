-- In-doubt messages of D (of one campaign, of some ids, or all of D).
select outbox_id
from journeyflow.outbox
where status = 'in_doubt'
  and run_date = :d
  and (cast(:c as text) is null or campaign = :c)
  and (cast(:ids as bigint[]) is null or outbox_id = any(:ids))
