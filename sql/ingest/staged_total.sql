-- Records the extracts staged, over every stream.
select coalesce(sum(staged), 0) from journeyflow_staging.batch
