-- A contact that moved (or is new) enters its phase at T, remembering where it came from.
insert into journeyflow.phase_history
    (contact_id, phase, entered_run_date, entered_at, previous_phase)
select m.contact_id, m.phase, :d, :t, prev.phase
from moves m
left join journeyflow.phase_history prev
    on prev.contact_id = m.contact_id and prev.left_run_date = :d
