-- Claim the notification of D before sending it: only the run that inserts the row sends, so
-- it goes out at most once, also when two runs of D meet.
insert into journeyflow.notifications (kind, run_date, went) values (:kind, :d, 'sending')
on conflict (kind, run_date) do nothing
returning 1
