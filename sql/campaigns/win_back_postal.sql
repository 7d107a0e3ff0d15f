-- campaign: win_back_postal
-- audience: lapsing customers (phase at_risk), no bad payers or bad reviewers, whom email no longer reaches but a letter does.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'at_risk' and not f.bad_payer and not f.bad_reviewer
  and (not f.email_ok or f.email_dead) and f.postal_ok
