-- Rows of an earlier run of D that this run no longer chooses: cancelled, not sent.
update journeyflow.outbox o
set status = 'cancelled', last_error = 'no longer chosen when this run date was run again'
where o.run_date = :d
  and o.status = 'queued'
  and not exists (
      select 1 from decided d
      where d.decision = 'queued' and d.contact_id = o.contact_id and d.campaign = o.campaign
        and d.step = o.step and d.occurrence = o.occurrence
  )
