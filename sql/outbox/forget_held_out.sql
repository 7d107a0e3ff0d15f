-- A rerun of D decides its holdout again: the held-out rows of an earlier run of D go first
-- (they carry no message; the rerun writes them again for the contacts it holds out).
delete from journeyflow.outbox
where run_date = :d and status = 'held_out'
