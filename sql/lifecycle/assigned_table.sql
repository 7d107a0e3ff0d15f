-- The phase each contact is assigned in this run (first match wins: the insert skips conflicts).
create temp table assigned (
    contact_id text collate "C" primary key,
    phase text not null,
    priority integer not null
) on commit drop
