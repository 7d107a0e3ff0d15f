-- An outbox row left out of the mailing: household or cancelled, with the reason.
update journeyflow.outbox set status = :status, last_error = :reason where outbox_id = :id
