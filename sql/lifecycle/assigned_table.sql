-- The phase each contact is assigned in this run (first match wins; see phases._assign, which
-- writes one row per contact).
create temp table assigned (
    contact_id text collate "C" not null,
    phase text not null,
    priority integer not null
) on commit drop
