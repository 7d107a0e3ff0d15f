-- The phase each contact is assigned in this run, with the phase of its open stay (first match
-- wins; see phases._assign, which creates it with one row per contact). Empty: no phase files.
create temp table assigned (
    contact_id text collate "C" not null,
    phase text not null,
    priority integer not null,
    open_phase text
) on commit drop
