-- The send log becomes a view of the outbox: one place records what went out, by email or by
-- post, so caps, repeat windows and email_dead read exactly what the senders recorded.
-- (The table was written only by the campaign senders, which now mark outbox rows instead.)
drop table if exists journeyflow.send_log;

create or replace view journeyflow.send_log as
select contact_id, campaign, step, channel, occurrence, run_date, sent_at
from journeyflow.outbox
where status in ('sent', 'exported');
