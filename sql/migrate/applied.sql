-- The schema files applied so far.
select version, filename, checksum from journeyflow.schema_migrations
