-- campaign: win_back_email
-- audience: lapsing customers (phase at_risk), no bad payers or bad reviewers, whom email still reaches.
select p.contact_id
from journeyflow.v_contact_phase p
join journeyflow.v_contact_flags f using (contact_id)
where p.phase = 'at_risk' and not f.bad_payer and not f.bad_reviewer
  and f.email_ok and not f.email_dead
