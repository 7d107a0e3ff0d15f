-- Contacts per phase on D, every phase of the rulebook included (also with nobody in it).
insert into journeyflow.phase_counts (run_date, phase, priority, contacts)
select :d, r.phase, r.priority, count(a.contact_id)
from unnest(cast(:phases as text[]), cast(:priorities as int[])) r (phase, priority)
left join assigned a on a.phase = r.phase
group by r.phase, r.priority
