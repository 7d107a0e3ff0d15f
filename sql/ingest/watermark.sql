-- The newest source timestamp merged so far for a stream: the next pull starts there.
select value from journeyflow.watermarks where stream = :s
