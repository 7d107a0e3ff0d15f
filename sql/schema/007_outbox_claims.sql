-- Which sender worker claimed an outbox row: a worker only hands a row to SMTP while the claim is
-- still its own (a second sender that took over after a lost lock cannot double-send it).
alter table journeyflow.outbox add column if not exists claimed_by text;
