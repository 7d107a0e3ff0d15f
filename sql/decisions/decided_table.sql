-- The decisions of this run, before they are kept.
create temp table decided (
    contact_id text collate "C",
    campaign text,
    step integer,
    channel text,
    decision text,
    reason text,
    variant text,
    occurrence integer
) on commit drop
