-- The contacts whose behaviour is recomputed on a night after the one it is of (cut-off :since):
-- those the triggers noted (their events, links or id changed; the note is taken), those with
-- events between the two cut-offs (now before T) or between the two starts of the score window
-- (now out of it), their own or of a linked visitor, those linked between the cut-offs, and
-- contacts without a row (new).
with bounds as (
    select
        cast(:since as timestamptz) as since,
        cast(:cutoff as timestamptz) as cutoff,
        cast(:since as timestamptz) - make_interval(days => :score_window_days) as left_since,
        cast(:cutoff as timestamptz) - make_interval(days => :score_window_days) as left_cutoff
),

noted as (
    delete from journeyflow.behaviour_changed returning contact_id
),

timed as (
    select e.contact_id
    from journeyflow.events e, bounds b
    where (e.occurred_at >= b.since and e.occurred_at < b.cutoff)
       or (e.occurred_at >= b.left_since and e.occurred_at < b.left_cutoff)
),

visited as (
    select a.anonymous_id
    from journeyflow.anonymous_events a, bounds b
    where (a.occurred_at >= b.since and a.occurred_at < b.cutoff)
       or (a.occurred_at >= b.left_since and a.occurred_at < b.left_cutoff)
),

linked as (
    select i.contact_id
    from journeyflow.identities i, bounds b
    where (i.identified_at >= b.since and i.identified_at < b.cutoff)
       or (i.identified_at < b.cutoff and i.anonymous_id in (select anonymous_id from visited))
)

insert into scope
select contact_id from noted
union select contact_id from timed
union select contact_id from linked
union select c.contact_id
      from journeyflow.contacts c
      where not exists (
          select from journeyflow.contact_behaviour b where b.contact_id = c.contact_id
      )
