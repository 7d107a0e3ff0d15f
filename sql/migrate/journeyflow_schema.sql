-- The schema of the core tables and read models.
create schema if not exists journeyflow
