-- Contacts per phase on D, with the change since the run before.
select c.phase, c.contacts, c.contacts - coalesce(p.contacts, 0) as change
from journeyflow.phase_counts c
left join journeyflow.phase_counts p
    on p.phase = c.phase
    and p.run_date = (select max(run_date) from journeyflow.phase_counts where run_date < :d)
where c.run_date = :d
order by c.priority
