-- Seed 000's funnel as of D: known (no order yet), customer (1 or 2 orders), regular (3+).
insert into journeyflow.report_funnel (run_date, stage, people)
select :d, stage, count(*)
from (
    select case
        when order_count = 0 then 'known'
        when order_count < 3 then 'customer'
        else 'regular'
    end as stage
    from journeyflow.contact_facts
) s
group by stage
