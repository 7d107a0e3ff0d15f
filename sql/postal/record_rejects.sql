-- A row left out of the mailing of a date, with the reason.
insert into journeyflow.postal_rejects (run_date, campaign, contact_id, reason)
values (:run_date, :campaign, :contact_id, :reason)
on conflict (run_date, campaign, contact_id) do update set reason = excluded.reason
