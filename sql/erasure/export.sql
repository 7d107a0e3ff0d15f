-- Everything held about one person (GDPR Art. 15), one JSON document; :contact_id.
select jsonb_build_object(
    'contact', (select to_jsonb(c) from journeyflow.contacts c where c.contact_id = :contact_id),
    'facts', (
        select to_jsonb(f) from journeyflow.contact_facts f where f.contact_id = :contact_id
    ),
    'events', coalesce((
        select jsonb_agg(to_jsonb(e) order by e.occurred_at, e.event_id)
        from journeyflow.events e where e.contact_id = :contact_id
    ), '[]'),
    'anonymous_ids', coalesce((
        select jsonb_agg(to_jsonb(i) order by i.identified_at, i.anonymous_id)
        from journeyflow.identities i where i.contact_id = :contact_id
    ), '[]'),
    'anonymous_events', coalesce((
        select jsonb_agg(to_jsonb(a) order by a.occurred_at, a.event_id)
        from journeyflow.identities i
        join journeyflow.anonymous_events a using (anonymous_id)
        where i.contact_id = :contact_id
    ), '[]'),
    'phase_history', coalesce((
        select jsonb_agg(to_jsonb(h) order by h.entered_at, h.phase)
        from journeyflow.phase_history h where h.contact_id = :contact_id
    ), '[]'),
    'campaign_decisions', coalesce((
        select jsonb_agg(to_jsonb(d) order by d.run_date, d.campaign)
        from journeyflow.campaign_decisions d where d.contact_id = :contact_id
    ), '[]'),
    'messages', coalesce((
        select jsonb_agg(to_jsonb(o) - 'claimed_by' order by o.run_date, o.campaign, o.step)
        from journeyflow.outbox o where o.contact_id = :contact_id
    ), '[]'),
    'suppressions', coalesce((
        select jsonb_agg(to_jsonb(s) order by s.created_at)
        from journeyflow.suppressions s where s.contact_id = :contact_id
    ), '[]'),
    'mailings', coalesce((
        select jsonb_agg(
            jsonb_build_object('campaign', p.campaign, 'run_date', p.run_date,
                               'file', p.file_name, 'delivered_at', p.delivered_at)
            order by p.run_date, p.campaign)
        from journeyflow.postal_exports p
        where p.pieces && array(
            select outbox_id from journeyflow.outbox where contact_id = :contact_id
        )
    ), '[]'),
    'postal_rejects', coalesce((
        select jsonb_agg(to_jsonb(r) order by r.run_date, r.campaign)
        from journeyflow.postal_rejects r where r.contact_id = :contact_id
    ), '[]'),
    'quarantine', coalesce((
        select jsonb_agg(
            jsonb_build_object('stream', q.stream, 'reason', q.reason, 'record', q.raw,
                               'first_run_date', q.first_run_date)
            order by q.quarantine_id)
        from journeyflow.quarantine q
        where q.record_id = :contact_id or q.raw ->> 'contact_id' = :contact_id
    ), '[]')
)
