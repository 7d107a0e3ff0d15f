-- Contacts per engagement level (cold, warm, hot), as of D.
insert into journeyflow.report_engagement (run_date, engagement_level, contacts)
select :d, engagement_level, count(*)
from journeyflow.contact_facts
group by 2
