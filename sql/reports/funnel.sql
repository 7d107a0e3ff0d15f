-- Seed 000's funnel as of D: known (no order yet), customer (1 or 2 orders), regular (3+); every
-- stage has a row, also an empty one.
insert into journeyflow.report_funnel (run_date, stage, people)
select :d, s.stage, coalesce(c.people, 0)
from (values ('known'), ('customer'), ('regular')) s (stage)
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
) c using (stage)
