-- campaign: birthday
-- audience: contacts whose birthday (month and day) is D + days_before; a 29 February birthday
-- counts on 28 February in years that are not leap years. Everybody with that birthday is a
-- candidate: the engine excludes those email does not reach (email_ok) with the reason, and the
-- repeat window (365 days) keeps it to one present a year. One pass over the contacts; extract
-- on a date needs no timezone (to_char would cast to timestamptz and is ten times slower).
with target as (  -- the day to greet: D + days_before
    select
        extract(month from t.day) as month,
        extract(day from t.day) as day,
        -- 28 February of a year that is not a leap year (the next day is 1 March)
        extract(month from t.day) = 2 and extract(day from t.day) = 28
            and extract(month from t.day + 1) = 3 as leap_day_too
    from (select cast(:run_date as date) + cast(:days_before as integer) as day) t
)
select c.contact_id
from journeyflow.contacts c
cross join target t
where extract(month from c.birthday) = t.month
  and (extract(day from c.birthday) = t.day
       or (t.leap_day_too and extract(day from c.birthday) = 29))
