-- A contact's phases, newest first.
select phase, entered_at, left_at
from journeyflow.v_phase_history
where contact_id = :contact_id
order by entered_at desc
