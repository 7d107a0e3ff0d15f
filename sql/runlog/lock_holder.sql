-- Who holds the run lock (its application_name says which run and process), if anyone.
select a.application_name, a.backend_start
from pg_locks l
join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory'
  and l.granted
  and l.objsubid = 1
  and l.objid = cast(hashtext(:name)::bigint & 4294967295 as oid)
limit 1
