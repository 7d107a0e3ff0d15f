-- The notification of D could not be sent: a later summarize may try again.
delete from journeyflow.notifications where kind = :kind and run_date = :d and went = 'sending'
