-- Forget one person (GDPR Art. 17), in one transaction: every row of theirs keeps its place in
-- the counts under :pseudonym instead of the contact id, and loses every personal value. Free
-- text that may quote them goes through journeyflow.scrub with their values: :personal in their
-- own rows, :distinctive (the email address as stored and lower-cased) in everyone's.
-- Statements run in order; journeyflow.erasure.forget runs the postal part before these.

-- the anonymous ids linked to them get pseudonyms of their own
create temp table erased_visitors on commit drop as
select
    anonymous_id as old,
    cast(:pseudonym as text) || '.v' || row_number() over (order by identified_at, anonymous_id)
        as new
from journeyflow.identities
where contact_id = :contact_id;

update journeyflow.anonymous_events a
set anonymous_id = v.new, properties = '{}', order_id = null
from erased_visitors v
where a.anonymous_id = v.old;

update journeyflow.identities i
set anonymous_id = v.new, contact_id = :pseudonym
from erased_visitors v
where i.anonymous_id = v.old;

update journeyflow.events e
set anonymous_id = v.new
from erased_visitors v
where e.anonymous_id = v.old;

-- their events: kept for the counts (type, time, amount), without the properties as sent
update journeyflow.events
set contact_id = :pseudonym, properties = '{}', order_id = null
where contact_id = :contact_id;

-- the flags that depended on the values stay (email_valid; see contact_facts.erased), so that a
-- replayed date puts them in the same phase; every campaign excludes them (decide.sql)
update journeyflow.contacts
set contact_id = :pseudonym, email = null, salutation = null, title = null, first_name = null,
    last_name = null, company = null, street = null, house_number = null, postal_code = null,
    city = null, country = null, language = null, birthday = null, consent_source = null,
    consent_ip = null, consent_text = null, erased_at = now()
where contact_id = :contact_id;

update journeyflow.contact_facts set contact_id = :pseudonym where contact_id = :contact_id;

update journeyflow.phase_history set contact_id = :pseudonym where contact_id = :contact_id;

update journeyflow.campaign_decisions
set contact_id = :pseudonym, reason = journeyflow.scrub(reason, :personal)
where contact_id = :contact_id;

-- messages: nothing queued or claimed goes out any more (a sender skips a row it no longer holds
-- as claimed; one already sending finishes); what was rendered or addressed is gone
update journeyflow.outbox
set contact_id = :pseudonym,
    recipient = null,
    message = null,
    status = case when status in ('queued', 'claimed') then 'cancelled' else status end,
    claimed_by = case when status in ('queued', 'claimed') then null else claimed_by end,
    last_error = case
        when status in ('queued', 'claimed') then :reason
        else journeyflow.scrub(last_error, :personal)
    end
where contact_id = :contact_id;

-- others' letters left out as the person's household name them by the pseudonym
update journeyflow.outbox
set last_error = 'household: same as ' || :pseudonym
where last_error = 'household: same as ' || :contact_id;

update journeyflow.postal_rejects
set reason = 'household: same as ' || :pseudonym
where reason = 'household: same as ' || :contact_id;

update journeyflow.suppressions
set contact_id = :pseudonym,
    address = case when address = '' then '' else 'erased:' || md5(random()::text) end,
    detail = journeyflow.scrub(detail, :personal)
where contact_id = :contact_id;

update journeyflow.postal_rejects
set contact_id = :pseudonym, reason = journeyflow.scrub(reason, :personal)
where contact_id = :contact_id;

-- tables of everyone: their own quarantined records keep only the pseudonym; others' records
-- that quote their email address or a linked anonymous id lose those
update journeyflow.quarantine
set record_id = case when record_id = :contact_id then :pseudonym else record_id end,
    raw = jsonb_build_object('erased', cast(:pseudonym as text)),
    raw_hash = md5(cast(:pseudonym as text) || ':' || quarantine_id)
where record_id = :contact_id
   or raw ->> 'contact_id' = :contact_id;

update journeyflow.quarantine q
set raw = jsonb_set(q.raw, '{anonymous_id}', to_jsonb(v.new))
from erased_visitors v
where q.raw ->> 'anonymous_id' = v.old;

update journeyflow.quarantine
set raw = cast(journeyflow.scrub(raw::text, :distinctive) as jsonb)
where exists (
    select from unnest(cast(:distinctive as text[])) p where position(p in raw::text) > 0
);

update journeyflow.validation_results
set observed_value = journeyflow.scrub(observed_value, :distinctive),
    description = journeyflow.scrub(description, :distinctive)
where exists (
    select from unnest(cast(:distinctive as text[])) p
    where position(p in coalesce(observed_value, '') || coalesce(description, '')) > 0
);

update journeyflow.pipeline_runs
set message = journeyflow.scrub(message, :distinctive)
where exists (select from unnest(cast(:distinctive as text[])) p where position(p in message) > 0);

update journeyflow.pipeline_steps
set details = cast(journeyflow.scrub(details::text, :distinctive) as jsonb)
where exists (
    select from unnest(cast(:distinctive as text[])) p where position(p in details::text) > 0
);

-- the batch of a run in progress
delete from journeyflow_staging.contacts where contact_id = :contact_id;

delete from journeyflow_staging.events
where contact_id = :contact_id or anonymous_id in (select old from erased_visitors);

-- the kept behaviour (sql/facts/behaviour.sql): the pseudonym has no row, so the next run writes
-- it again from the events as they are now; the triggers' note of the old id goes too
delete from journeyflow.contact_behaviour where contact_id = :contact_id;

delete from journeyflow.behaviour_changed where contact_id = :contact_id;
