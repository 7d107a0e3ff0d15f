-- Seed 000's funnel of D, top stage first.
select stage, people
from journeyflow.v_funnel
where run_date = :d
order by array_position(array['flyby', 'known', 'customer', 'regular'], stage)
