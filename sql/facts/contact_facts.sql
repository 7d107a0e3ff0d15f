-- Contact facts as of the cut-off T (:cutoff), for every contact at once, in one pass over events.
-- Every number is a bound parameter from journeyflow.yaml (rules.*). Only events before T count.
-- :only limits the pass to one contact (journeyflow explain); null means everyone.
with bounds as (  -- the windows, computed once (not once per event)
    select
        date_part('epoch', cast(:cutoff as timestamptz)) as cutoff_epoch,  -- float8, not numeric
        :cutoff - make_interval(days => :score_window_days) as score_since,
        :cutoff - make_interval(days => :bad_payer_days) as bad_payer_since
),

points as (
    select key as type, value::double precision as points
    from jsonb_each_text(cast(:score_points as jsonb))
),

events as (
    select *
    from journeyflow.events
    where occurred_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
),

first_purchase as (
    select distinct on (contact_id) contact_id, product
    from journeyflow.events
    where type = 'purchase' and occurred_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
    order by contact_id, occurred_at, event_id
),

behaviour as (
    select
        contact_id,
        count(*) filter (where type = 'purchase') as order_count,
        min(occurred_at) filter (where type = 'purchase') as first_order_at,
        max(occurred_at) filter (where type = 'purchase') as last_order_at,
        coalesce(sum(amount) filter (where type = 'purchase'), 0) as revenue,
        avg(rating) filter (where type = 'review') as avg_rating,
        min(rating) filter (where type = 'review') as min_rating,
        max(occurred_at) filter (
            where type in ('page_view', 'comment', 'email_open', 'email_click')
        ) as last_engaged_at,
        max(occurred_at) filter (where type = 'referral') as last_referral_at,
        max(occurred_at) filter (where type in ('email_open', 'email_click')) as last_response_at,
        coalesce(sum(
            p.points * power(cast(0.5 as float8),
                             (w.cutoff_epoch - date_part('epoch', occurred_at))
                             / (cast(86400 as float8) * :score_half_life_days))
        ) filter (where occurred_at >= w.score_since), 0) as score,
        bool_or(type = 'payment_overdue' and occurred_at >= w.bad_payer_since) as bad_payer,
        bool_or(type = 'review' and rating <= :bad_review_max_rating) as bad_reviewer,
        max(occurred_at) filter (where type = 'unsubscribe' and channel = 'email')
            as email_unsubscribed_at,
        max(occurred_at) filter (where type = 'email_bounce' and kind = 'hard') as hard_bounce_at,
        bool_or(type = 'unsubscribe' and channel = 'postal') as postal_unsubscribed,
        max(occurred_at) filter (where type = 'postal_return') as postal_returned_at
    from events
    cross join bounds w
    left join points p using (type)
    group by contact_id
),

sends as (
    select contact_id, count(*) as emails
    from journeyflow.send_log
    where channel = 'email'
      and sent_at >= :cutoff - make_interval(days => :email_dead_days) and sent_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
    group by contact_id
),

contacts as (
    select
        c.*,
        coalesce(
            c.email_valid
            and c.consent_status = 'confirmed'
            and c.consent_confirmed_at < :cutoff
            and coalesce(b.email_unsubscribed_at <= c.consent_confirmed_at, true)
            and coalesce(b.hard_bounce_at <= c.consent_confirmed_at, true),
            false
        ) as email_ok,
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
            and coalesce(b.postal_returned_at <= c.address_changed_at, true),
            false
        ) as postal_ok
    from journeyflow.contacts c
    left join behaviour b using (contact_id)
    where c.created_at < :cutoff
      and (cast(:only as text) is null or c.contact_id = :only)
),

final as (
    select
        c.contact_id,
        cast(:run_date as date) as run_date,
        coalesce(b.order_count, 0) as order_count,
        b.first_order_at,
        b.last_order_at,
        coalesce(b.revenue, 0) as revenue,
        fp.product as first_product,
        round(b.avg_rating, 2) as avg_rating,
        b.min_rating,
        b.last_engaged_at,
        b.last_referral_at,
        coalesce(b.score, 0) as score,
        case
            when coalesce(b.score, 0) >= :score_hot_from then 'hot'
            when coalesce(b.score, 0) >= :score_warm_from then 'warm'
            else 'cold'
        end as engagement_level,
        c.email_ok,
        not c.email_ok or (
            coalesce(s.emails, 0) >= :email_dead_sends
            and coalesce(b.last_response_at < :cutoff - make_interval(days => :email_dead_days), true)
        ) as email_dead,
        c.postal_ok,
        coalesce(b.bad_payer, false) as bad_payer,
        coalesce(b.bad_reviewer, false) as bad_reviewer,
        c.consent_status,
        c.consent_confirmed_at,
        c.created_at
    from contacts c
    left join behaviour b using (contact_id)
    left join first_purchase fp using (contact_id)
    left join sends s using (contact_id)
)

select * from final
