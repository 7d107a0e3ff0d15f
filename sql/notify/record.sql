-- A notification of D went out.
insert into journeyflow.notifications (kind, run_date, went) values (:kind, :d, :went)
on conflict (kind, run_date) do nothing
