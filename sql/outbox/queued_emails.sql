-- How many queued email decisions this run has: the most messages it may render (a rerun finds
-- some in the outbox already).
select count(*) from decided where decision = 'queued' and channel = 'email'
