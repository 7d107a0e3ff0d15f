-- A schema file was applied.
insert into journeyflow.schema_migrations (version, filename, checksum)
values (:v, :f, :c)
