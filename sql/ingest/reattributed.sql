-- An anonymous event the source now sends under a contact is the contact's: its anonymous copy
-- goes, so that it counts once (the contact's copy is merged next).
delete from journeyflow.anonymous_events a
using journeyflow_staging.events s
where s.contact_id is not null and a.event_id = s.event_id
