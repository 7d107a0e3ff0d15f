-- What stays of a forgotten person: the pseudonym their rows now carry and the keyed hashes of
-- their contact id and email address.
insert into journeyflow.erasures
    (pseudonym, id_hash, email_hash, key_id, requested_by, requested_at)
select
    :pseudonym,
    journeyflow.keyed_hash('id:' || contact_id, :ikey, :okey),
    case when nullif(btrim(email), '') is not null
        then journeyflow.keyed_hash('email:' || lower(btrim(email)), :ikey, :okey)
    end,
    :key_id, :requested_by, :requested_at
from journeyflow.contacts
where contact_id = :contact_id
returning erasure_id
