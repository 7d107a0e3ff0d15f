-- The erasure keys the stored hashes were made with.
select distinct key_id from journeyflow.erasures
