-- One decision per candidate (the temp table cand) and campaign for run date D: queued, held,
-- excluded or held_out, with the reason, and the variant of a queued or held-out step. Reads the
-- outbox before D (steps done, repeat windows), the messages of the run dates D-6..D-1 (caps),
-- what a run of D already handed out (the temp table out_today) and the contact facts.
-- A contact's bucket in a campaign: the first 8 hex digits of sha256("<campaign>:<contact_id>")
-- as a number, modulo 10000 (journeyflow.learn.assign.bucket). Buckets below the campaign's
-- holdout are its control group; the rest are split into the step's variants by weight.
with camp as (
    select * from jsonb_to_recordset(cast(:campaigns as jsonb)) as x(
        campaign text, anchored boolean, repeat_days integer, delays integer[],
        holdout_buckets integer, variants jsonb)
),

hist as (  -- the outbox before D: what each contact got from each campaign
    select contact_id, campaign, step, occurrence, run_date, status
    from journeyflow.outbox
    where run_date < :d
),

per_campaign as (
    select
        h.contact_id,
        h.campaign,
        max(h.run_date) filter (where h.status = any(:repeat)) as last_run_date,
        array_agg(h.step) filter (where h.status = any(:done)) as done_steps,
        min(h.step) filter (where h.status = any(:in_flight)) as waiting_step,
        min(h.run_date) filter (where h.status = any(:in_flight)) as waiting_since
    from hist h
    group by h.contact_id, h.campaign
),

week as (  -- campaign messages (emails and letters) in the run dates D-6..D-1
    select contact_id, count(*) as messages
    from journeyflow.outbox
    where status = any(:capped)
      and run_date between cast(:d as date) - (:per_week_days - 1) and cast(:d as date) - 1
    group by contact_id
),

others_today as (  -- ... for campaigns that no longer have the contact as a candidate
    select o.contact_id, sum(o.n) as n
    from out_today o  -- a temp table: messages of D that an earlier run of D handed out
    where not exists (
        select 1 from cand c where c.contact_id = o.contact_id and c.campaign = o.campaign
    )
    group by o.contact_id
),

base as materialized (  -- computed once: the steps below read next_step many times
    select
        c.priority, c.campaign, c.contact_id, c.channel, c.excluded, f.email_ok, f.email_block,
        coalesce(f.erased, false) as erased,
        m.anchored, m.repeat_days, m.delays, m.holdout_buckets, m.variants,
        coalesce(cast(c.anchor_at as date), cast(:d as date)) as anchor_date,
        c.anchor_at is null and m.anchored as no_anchor,
        pc.last_run_date, pc.waiting_step, pc.waiting_since, ot.step as handed_step,
        ot.variant as handed_variant,
        case
            when m.repeat_days is not null then 1
            else (select min(s) from generate_series(1, cardinality(m.delays)) s
                  where not s = any(coalesce(pc.done_steps, '{}')))
        end as next_step
    from cand c
    join camp m using (campaign)
    left join journeyflow.contact_facts f using (contact_id)
    left join per_campaign pc using (contact_id, campaign)
    left join out_today ot using (contact_id, campaign)
),

judged as (
    select
        b.*,
        case when b.next_step is not null
             then b.anchor_date + b.delays[b.next_step] end as due_date,
        case
            when b.erased then 'erased on request (GDPR Art. 17)'
            when b.excluded is not null then b.excluded
            when b.channel is null then 'no channel reaches this contact'
            when b.channel = 'email' and not coalesce(b.email_ok, false)
                then coalesce(b.email_block, 'email not allowed')
            when b.no_anchor then 'no start date for the steps'
            when b.next_step is null then 'received every step already (once per contact)'
        end as exclusion,
        case
            when b.waiting_step is not null then
                'step ' || b.waiting_step || ' of ' || b.waiting_since
                || ' is still waiting to be sent'
            when b.repeat_days is not null
                 and b.last_run_date > cast(:d as date) - b.repeat_days then
                'repeat window: last sent ' || b.last_run_date || ', again from '
                || (b.last_run_date + b.repeat_days)
        end as waiting
    from base b
),

flagged as (  -- due now: nothing keeps the step from going out today but the caps
    select
        j.*,
        j.handed_step is null and j.exclusion is null and j.waiting is null
            and j.due_date <= :d as due_now  -- never null: every step has a delay (the config
                                             -- checks), so no due date means no next step,
                                             -- an exclusion
    from judged j
),

competing as (  -- ... and whether the step competes for the caps on D: due now, or handed out
    select f.*, f.handed_step is not null or f.due_now as competes
    from flagged f
),

due as (  -- the steps that compete for the caps on D (handed out by a run of D, or due now),
          -- what the caps leave each contact, and the contact's bucket in the campaign
    select
        f.*,
        coalesce(w.messages, 0) as week_messages,
        coalesce(x.n, 0) as others_today,
        greatest(0, least(:per_run_date, :per_week - coalesce(w.messages, 0))
                    - coalesce(x.n, 0)) as room,
        ('x' || left(encode(sha256(convert_to(f.campaign || ':' || f.contact_id, 'UTF8')), 'hex'),
                     8))::bit(32)::bigint % 10000 as bucket
    from competing f
    left join week w using (contact_id)
    left join others_today x using (contact_id)
    where f.competes
),

control as (  -- a contact in the campaign's holdout is held out where its step would have been
              -- queued (the caps ranked as if nobody were held out), else held like the others
    select
        l.*,
        l.bucket < l.holdout_buckets as in_holdout,
        row_number() over a <= l.room as would_queue,
        first_value(l.campaign) over a as would_first
    from due l
    window a as (partition by l.contact_id order by l.handed_step is null, l.priority, l.next_step)
),

ranked as (  -- the due steps of a contact compete for the caps: what a run of D already
              -- handed out first, then in campaign order; a step of the holdout takes no place
    select
        j.*,
        j.due_now and j.in_holdout and j.would_queue as held_out,
        row_number() over w as cap_rank,
        first_value(j.campaign) over w as first_campaign
    from control j
    window w as (
        partition by j.contact_id, j.handed_step is not null or not j.in_holdout
        order by j.handed_step is null, j.priority, j.next_step
    )
),

judged_all as (  -- the other steps are excluded or held whatever the caps leave
    select * from ranked
    union all
    select f.*,  -- week_messages, others_today, room, bucket, in_holdout, would_queue,
                 -- would_first, held_out, cap_rank, first_campaign
        null, null, null, null, null, null, null, false, null, null
    from competing f
    where f.competes is not true
),

decided as (
    select
        j.contact_id, j.campaign, coalesce(j.handed_step, j.next_step, 1) as step,
        coalesce(j.channel, 'email') as channel, j.bucket, j.variants, j.handed_variant,
        case
            when j.handed_step is not null then 'queued'  -- handed out by a run of D: it stands
            when j.exclusion is not null then 'excluded'
            when j.waiting is not null or j.due_date > :d then 'held'
            when j.held_out then 'held_out'
            when j.in_holdout then 'held'  -- capped: held out on a later date, never sent
            when j.cap_rank <= j.room then 'queued'
            else 'held'
        end as decision,
        case
            when j.handed_step is not null then 'due: step ' || j.handed_step
            when j.exclusion is not null then j.exclusion
            when j.waiting is not null then j.waiting
            when j.due_date > :d then 'step ' || j.next_step || ' is due on ' || j.due_date
            when j.held_out then
                'holdout: step ' || j.next_step || ' is due; the control group ('
                || trim_scale(j.holdout_buckets / 100.0) || ' % of contacts) gets no message'
            when j.cap_rank <= j.room and not j.in_holdout then 'due: step ' || j.next_step
            when j.week_messages >= :per_week then
                'cap: ' || j.week_messages || ' campaign messages in the run dates '
                || (cast(:d as date) - (:per_week_days - 1)) || '..' || (cast(:d as date) - 1)
            when j.others_today > 0 then
                'cap: ' || :per_run_date || ' campaign message per run date; one went out earlier '
                || 'on this date'
            else 'cap: ' || :per_run_date || ' campaign message per run date; '
                || case when j.in_holdout then j.would_first else j.first_campaign end
                || ' goes first'
        end as reason
    from judged_all j
)

select
    x.contact_id, x.campaign, x.step, x.channel, x.decision, x.reason,
    case
        when x.decision = 'held_out' then 'holdout'
        when x.handed_variant is not null then x.handed_variant  -- as it was sent
        when x.decision = 'queued' then (
            select v ->> 0 from jsonb_array_elements(x.variants -> cast(x.step as text)) v
            where x.bucket >= cast(v ->> 1 as integer) and x.bucket < cast(v ->> 2 as integer)
        )
    end as variant
from decided x
