-- The cockpit: seed 000's funnel per run date, and the indexes its pages read by contact.

create table if not exists journeyflow.report_funnel (
    run_date  date not null,
    stage     text not null,                    -- known | customer | regular
    people    bigint not null,
    primary key (run_date, stage)
);

-- Stable read model: the funnel as of D, stage by stage.
create or replace view journeyflow.v_funnel as
select run_date, stage, people
from journeyflow.report_funnel;

-- The contact page: one contact's facts, decisions and phase history without a scan.
-- (merge drops and rebuilds events_contact around the first bulk load, as the primary key.)
create index if not exists events_contact on journeyflow.events (contact_id);
create index if not exists campaign_decisions_contact
    on journeyflow.campaign_decisions (contact_id);
create index if not exists contacts_email_lower on journeyflow.contacts (lower(email));
