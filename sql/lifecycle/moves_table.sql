-- The contacts whose phase is not the one of their open stay (or who have none): one join of the
-- run's phases with the open stays; closing and opening stays then read only these.
create temp table moves on commit drop as
select a.contact_id, a.phase, h.phase as open_phase
from assigned a
left join journeyflow.phase_history h
    on h.contact_id = a.contact_id and h.left_run_date is null
where h.phase is distinct from a.phase
