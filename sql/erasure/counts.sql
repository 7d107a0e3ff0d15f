-- What forgetting one person changed, table by table (rows; no values).
update journeyflow.erasures set counts = cast(:counts as jsonb) where pseudonym = :pseudonym
