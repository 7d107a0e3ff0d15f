-- Decision rows older than campaigns.keep_decisions_days go; the outbox keeps what went out.
delete from journeyflow.campaign_decisions where run_date < :oldest
