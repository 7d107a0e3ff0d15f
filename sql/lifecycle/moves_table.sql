-- The contacts whose phase is not the one of their open stay (or who have none); closing and
-- opening stays then read only these. The open stays were joined in when the phases were
-- assigned (phases._assign).
create temp table moves on commit drop as
select contact_id, phase, open_phase
from assigned
where open_phase is distinct from phase
