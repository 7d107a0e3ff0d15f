-- The candidates of every campaign for this run: each audience query adds its rows.
create temp table cand (
    priority integer,
    campaign text,
    contact_id text collate "C",
    channel text,
    anchor_at timestamptz,
    excluded text
) on commit drop
