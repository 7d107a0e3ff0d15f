-- What stays of a forgotten person: the pseudonym their rows now carry and the keyed hashes of
-- their contact id and email address.
insert into journeyflow.erasures
    (pseudonym, id_hash, email_hash, key_id, requested_by, requested_at)
values (:pseudonym, :id_hash, :email_hash, :key_id, :requested_by, :requested_at)
