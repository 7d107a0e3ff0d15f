-- A contact whose phase changed leaves its current stay at T.
update journeyflow.phase_history h
set left_run_date = :d, left_at = :t
from moves m
where h.contact_id = m.contact_id
  and h.left_run_date is null
  and m.open_phase is not null
