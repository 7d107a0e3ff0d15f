-- A forgotten person, by the keyed hash of their contact id.
select pseudonym, erased_at
from journeyflow.erasures
where id_hash = journeyflow.keyed_hash('id:' || :contact_id, :ikey, :okey)
