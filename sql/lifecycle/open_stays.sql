-- A contact without an open stay enters its phase at T (remembering where it came from).
insert into journeyflow.phase_history
    (contact_id, phase, entered_run_date, entered_at, previous_phase)
select a.contact_id, a.phase, :d, :t, prev.phase
from assigned a
left join journeyflow.phase_history prev
    on prev.contact_id = a.contact_id and prev.left_run_date = :d
where not exists (
    select from journeyflow.phase_history h
    where h.contact_id = a.contact_id and h.left_run_date is null
)
