-- The engagement levels of D, cold to hot.
select engagement_level, contacts
from journeyflow.report_engagement
where run_date = :d
order by array_position(array['cold', 'warm', 'hot'], engagement_level)
