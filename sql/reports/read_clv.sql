-- The lifetime value report of D, best first.
select acquisition_product, customers, avg_revenue, total_revenue
from journeyflow.report_clv
where run_date = :d
order by avg_revenue desc
