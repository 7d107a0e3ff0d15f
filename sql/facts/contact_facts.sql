-- Contact facts as of the cut-off T (:cutoff), for every contact at once (or :only, one).
-- What the events say comes from the relation `behaviour` (journeyflow.contact_behaviour, or for
-- one contact sql/facts/behaviour.sql into a temporary table), in a form that does not depend on
-- T; here it becomes the score, the flags and the windows as of T. Every number is a bound
-- parameter from journeyflow.yaml (rules.*).
with bounds as (  -- computed once (not once per contact)
    select
        power(cast(0.5 as float8),  -- the score's factor for T (sql/schema/014)
              (date_part('epoch', cast(:cutoff as timestamptz))
               - date_part('epoch', cast(:t0 as timestamptz)))
              / (cast(86400 as float8) * :score_half_life_days)) as decay,
        :cutoff - make_interval(days => :bad_payer_days) as bad_payer_since
),

behaviour as (
    select
        b.*,
        b.score_sum * w.decay as score,
        coalesce(b.last_overdue_at >= w.bad_payer_since, false) as bad_payer,
        coalesce(b.min_rating <= :bad_review_max_rating, false) as bad_reviewer
    from pg_temp.behaviour b
    cross join bounds w
    where (cast(:only as text) is null or b.contact_id = :only)
),

sends as (  -- campaign emails of the run dates before D within the window (see send_log)
    select contact_id, count(*) as emails
    from journeyflow.send_log
    where channel = 'email'
      and run_date >= cast(:run_date as date) - :email_dead_days and run_date < :run_date
      and (cast(:only as text) is null or contact_id = :only)
    group by contact_id
),

suppressed as (  -- unsubscribe link and hard bounces at sending: honoured by every later run
    select
        s.contact_id,
        max(s.reason) filter (where s.channel = 'email') as email_reason,
        bool_or(s.channel = 'postal') as postal
    from journeyflow.suppressions s
    join journeyflow.contacts c using (contact_id)
    where (s.address = '' or s.address = lower(c.email))
      and (cast(:only as text) is null or s.contact_id = :only)
    group by s.contact_id
),

contacts as (  -- joined with the behaviour once (read twice, the CTE would be written out)
    select
        c.*,
        b.order_count, b.first_order_at, b.last_order_at, b.revenue, b.first_product,
        b.avg_rating, b.min_rating, b.last_engaged_at, b.last_referral_at, b.last_response_at,
        b.score, b.bad_payer, b.bad_reviewer, b.last_product, b.first_event_at, b.anonymous_ids,
        case  -- a forgotten person's flags stay what they were (no campaign takes them)
            when c.email is null and c.erased_at is null then 'no email address'
            when not coalesce(c.email_valid, false) then 'invalid email address'
            when c.consent_status is distinct from 'confirmed' then
                'no email consent (' || coalesce(c.consent_status, 'none') || ')'
            when c.consent_confirmed_at is null or c.consent_confirmed_at >= :cutoff then
                'no confirmed double opt-in'
            when b.email_unsubscribed_at > c.consent_confirmed_at then 'unsubscribed (email)'
            when b.hard_bounce_at > c.consent_confirmed_at then 'hard bounce'
            when s.email_reason = 'unsubscribe_link' then 'unsubscribed (link in an email)'
            when s.email_reason is not null then 'address rejected by the mail server (5xx)'
        end as email_block,
        coalesce(
            c.street is not null and c.house_number is not null and c.city is not null
            and case c.country
                when 'DE' then c.postal_code ~ '^[0-9]{5}$'
                when 'AT' then c.postal_code ~ '^[0-9]{4}$'
                when 'CH' then c.postal_code ~ '^[0-9]{4}$'
                else false
            end
            and not c.postal_opt_out
            and not coalesce(b.postal_unsubscribed, false)
            and not coalesce(s.postal, false)
            and coalesce(b.postal_returned_at <= c.address_changed_at, true),
            false
        ) as postal_ok
    from journeyflow.contacts c
    left join behaviour b using (contact_id)
    left join suppressed s using (contact_id)
    where c.created_at < :cutoff
      and (cast(:only as text) is null or c.contact_id = :only)
),

final as (
    select
        c.contact_id,
        cast(:run_date as date) as run_date,
        coalesce(c.order_count, 0) as order_count,
        c.first_order_at,
        c.last_order_at,
        coalesce(c.revenue, 0) as revenue,
        c.first_product,
        round(c.avg_rating, 2) as avg_rating,
        c.min_rating,
        c.last_engaged_at,
        c.last_referral_at,
        coalesce(c.score, 0) as score,
        case
            when coalesce(c.score, 0) >= :score_hot_from then 'hot'
            when coalesce(c.score, 0) >= :score_warm_from then 'warm'
            else 'cold'
        end as engagement_level,
        c.email_block is null as email_ok,
        c.email_block is not null or (
            coalesce(s.emails, 0) >= :email_dead_sends
            and coalesce(c.last_response_at < :cutoff - make_interval(days => :email_dead_days), true)
        ) as email_dead,
        c.postal_ok,
        coalesce(c.bad_payer, false) as bad_payer,
        coalesce(c.bad_reviewer, false) as bad_reviewer,
        c.consent_status,
        c.consent_confirmed_at,
        c.created_at,
        c.last_product,
        c.email_block,
        -- first touch: the earliest event of the contact or a linked visitor, or its creation
        least(c.first_event_at, c.created_at) as first_touch_at,
        coalesce(c.anonymous_ids, 0) as anonymous_ids,
        c.erased_at is not null as erased
    from contacts c
    left join sends s using (contact_id)
)

select * from final
