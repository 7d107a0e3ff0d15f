-- The contacts whose behaviour is recomputed from all their events on a night after the one it is
-- of (cut-off :since), the others having the night's additions folded in (sql/facts/fold.sql):
-- those the triggers noted (events or a visitor's events changed or deleted, links added, ids
-- changed; the note is taken), those linked between the two cut-offs, those whose additions do
-- not fold (a review: the average needs all ratings; a purchase at the very time of the kept
-- first or last one: which product came first needs the ids), and contacts without a row (new).
with bounds as (
    select cast(:since as timestamptz) as since, cast(:cutoff as timestamptz) as cutoff
),

noted as (
    delete from journeyflow.behaviour_changed returning contact_id
),

linked as (
    select i.contact_id
    from journeyflow.identities i, bounds b
    where i.identified_at >= b.since and i.identified_at < b.cutoff
),

unfolded as (
    select d.contact_id
    from pg_temp.delta d
    join journeyflow.contact_behaviour k using (contact_id)
    where d.reviews
       or d.first_order_at = k.first_order_at
       or d.last_order_at = k.last_order_at
)

insert into scope
select contact_id from noted
union select contact_id from linked
union select contact_id from unfolded
union select c.contact_id
      from journeyflow.contacts c
      where not exists (
          select from journeyflow.contact_behaviour b where b.contact_id = c.contact_id
      )
