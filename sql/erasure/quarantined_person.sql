-- A person the warehouse holds only in quarantine: their newest quarantined contact record, or
-- an empty object when only events of theirs are there; null when nothing is.
select coalesce(
    (
        select raw from journeyflow.quarantine
        where stream = 'contacts' and record_id = :contact_id
        order by quarantine_id desc
        limit 1
    ),
    (
        select '{}'::jsonb
        where exists (
            select from journeyflow.quarantine where raw ->> 'contact_id' = :contact_id
        )
    )
)
