-- Customer lifetime value by acquisition product (the product of the first order), as of D.
insert into journeyflow.report_clv
    (run_date, acquisition_product, customers, avg_revenue, total_revenue)
select :d, coalesce(first_product, '(unknown)'), count(*), round(avg(revenue), 2), sum(revenue)
from journeyflow.contact_facts
where order_count > 0
group by 2
