-- Whether a notification of this kind went out for D already.
select went from journeyflow.notifications where kind = :kind and run_date = :d
