-- campaign: win_back
-- audience: lapsing customers (phase at_risk) without bad payers or bad reviewers; by email while
-- email reaches them (email_ok and not email_dead), else by post when the address is usable
-- (postal_ok: complete, valid postal code, no objection to postal advertising, no return).
select
    p.contact_id,
    case
        when f.email_ok and not f.email_dead then 'email'
        when f.postal_ok then 'postal'
    end as channel,
    case
        when f.bad_payer then 'bad payer (payment overdue in the last 365 days)'
        when f.bad_reviewer then 'bad reviewer (a review of 2 stars or less)'
        when not (f.email_ok and not f.email_dead) and not f.postal_ok then
            'unreachable: ' || coalesce(f.email_block, 'email dead (no opens in 180 days)')
            || ', and no usable postal address or a postal objection'
    end as excluded
from journeyflow.v_contact_phase p
join journeyflow.contact_facts f using (contact_id)
where p.phase = 'at_risk'
