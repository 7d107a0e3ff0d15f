-- A queued (or held-out) step's occurrence: one more than the last time the contact got this
-- step.
update decided d set occurrence = coalesce((
    select max(o.occurrence) from journeyflow.outbox o
    where o.contact_id = d.contact_id and o.campaign = d.campaign and o.step = d.step
      and o.run_date < :d
), 0) + 1
where d.decision in ('queued', 'held_out')
