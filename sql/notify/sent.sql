-- Where the claimed notification of D went (or why it could not be sent: the claim is dropped).
update journeyflow.notifications set went = :went, sent_at = now()
where kind = :kind and run_date = :d
