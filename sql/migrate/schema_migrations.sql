-- Which files of sql/schema/ were applied, with their checksums.
create table if not exists journeyflow.schema_migrations (
    version integer primary key,
    filename text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)
