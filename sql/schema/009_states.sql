-- One vocabulary for states: the same lists as journeyflow.states (Status, Decision, Channel).
alter table journeyflow.outbox
    add constraint outbox_status_known check (status in (
        'queued', 'claimed', 'sending', 'sent', 'exported', 'household', 'in_doubt', 'bounced',
        'failed', 'cancelled'
    )),
    add constraint outbox_channel_known check (channel in ('email', 'postal'));

alter table journeyflow.campaign_decisions
    add constraint campaign_decisions_decision_known check (
        decision in ('queued', 'held', 'excluded')
    ),
    add constraint campaign_decisions_channel_known check (channel in ('email', 'postal'));
