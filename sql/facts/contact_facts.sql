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

linked as (  -- anonymous visitors identified before T: their events count as the contact's own
    select i.contact_id, i.anonymous_id
    from journeyflow.identities i
    where i.identified_at < :cutoff
      and (cast(:only as text) is null or i.contact_id = :only)
),

linked_events as (  -- all of a linked visitor's events before T, earlier ones included
    select
        l.contact_id, a.event_id, a.type, a.occurred_at, a.amount, a.rating, a.channel, a.kind,
        a.product
    from linked l
    join journeyflow.anonymous_events a using (anonymous_id)
    where a.occurred_at < :cutoff
),

events as (
    select contact_id, event_id, type, occurred_at, amount, rating, channel, kind
    from journeyflow.events
    where occurred_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
    union all
    select contact_id, event_id, type, occurred_at, amount, rating, channel, kind
    from linked_events
),

purchases as (  -- the contact's and its linked visitors' purchases (the second part is small)
    select contact_id, event_id, occurred_at, product
    from journeyflow.events
    where type = 'purchase' and occurred_at < :cutoff
      and (cast(:only as text) is null or contact_id = :only)
    union all
    select contact_id, event_id, occurred_at, product
    from linked_events
    where type = 'purchase'
),

first_purchase as (
    select distinct on (contact_id) contact_id, product
    from purchases
    order by contact_id, occurred_at, event_id
),

visitors as (
    select contact_id, count(*) as anonymous_ids from linked group by contact_id
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
        max(occurred_at) filter (where type = 'postal_return') as postal_returned_at,
        min(occurred_at) as first_event_at
    from events
    cross join bounds w
    left join points p using (type)
    group by contact_id
),

sends as (  -- campaign emails of the run dates before D within the window (see send_log)
    select contact_id, count(*) as emails
    from journeyflow.send_log
    where channel = 'email'
      and run_date >= cast(:run_date as date) - :email_dead_days and run_date < :run_date
      and (cast(:only as text) is null or contact_id = :only)
    group by contact_id
),

last_purchase as (
    select distinct on (contact_id) contact_id, product
    from purchases
    order by contact_id, occurred_at desc, event_id desc
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

contacts as (
    select
        c.*,
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
        c.email_block is null as email_ok,
        c.email_block is not null or (
            coalesce(s.emails, 0) >= :email_dead_sends
            and coalesce(b.last_response_at < :cutoff - make_interval(days => :email_dead_days), true)
        ) as email_dead,
        c.postal_ok,
        coalesce(b.bad_payer, false) as bad_payer,
        coalesce(b.bad_reviewer, false) as bad_reviewer,
        c.consent_status,
        c.consent_confirmed_at,
        c.created_at,
        lp.product as last_product,
        c.email_block,
        -- first touch: the earliest event of the contact or a linked visitor, or its creation
        least(b.first_event_at, c.created_at) as first_touch_at,
        coalesce(v.anonymous_ids, 0) as anonymous_ids,
        c.erased_at is not null as erased
    from contacts c
    left join behaviour b using (contact_id)
    left join first_purchase fp using (contact_id)
    left join last_purchase lp using (contact_id)
    left join sends s using (contact_id)
    left join visitors v using (contact_id)
)

select * from final
