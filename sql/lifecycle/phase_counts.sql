-- Contacts per phase on D, every phase of the rulebook included (also with nobody in it). The
-- run's phases are counted first (a handful of groups), then matched with the rulebook.
insert into journeyflow.phase_counts (run_date, phase, priority, contacts)
select :d, r.phase, r.priority, coalesce(a.contacts, 0)
from unnest(cast(:phases as text[]), cast(:priorities as int[])) r (phase, priority)
left join (select phase, count(*) as contacts from assigned group by phase) a using (phase)
