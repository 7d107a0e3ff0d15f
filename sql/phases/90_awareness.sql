-- phase: awareness
-- rule: Everyone else.
select contact_id
from facts
