-- Seed 000's funnel as of D: flyby (anonymous ids seen in the :flyby_days days before T and not
-- identified before T), known (contacts without an order), customer (1 or 2 orders), regular
-- (3 or more); every stage has a row, also an empty one.
insert into journeyflow.report_funnel (run_date, stage, people)
select :d, s.stage, coalesce(c.people, 0)
from (values ('flyby'), ('known'), ('customer'), ('regular')) s (stage)
left join (
    select
        case
            when order_count = 0 then 'known'
            when order_count < 3 then 'customer'
            else 'regular'
        end as stage,
        count(*) as people
    from journeyflow.contact_facts
    group by 1
    union all
    select 'flyby', count(*)
    from (
        select distinct a.anonymous_id
        from journeyflow.anonymous_events a
        where a.occurred_at >= :cutoff - make_interval(days => :flyby_days)
          and a.occurred_at < :cutoff
    ) seen
    where not exists (
        select from journeyflow.identities i
        where i.anonymous_id = seen.anonymous_id and i.identified_at < :cutoff
    )
) c using (stage)
