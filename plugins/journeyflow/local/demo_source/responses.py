"""The demo shop's customers answer the mail: purchases after the messages of a night.

``journeyflow demo --nights N`` runs N nights one after the other. After each night, every
contact a message reached (and every contact a holdout kept) buys within the attribution window
with a probability: a small base rate for everyone, plus a lift for those the message reached,
larger for some campaigns and variants than others (so the demo has something to find). The
draws are deterministic (a hash of contact, campaign, step and date), stored in
``$JOURNEYFLOW_HOME/demo_responses.json`` and served by the demo source from the next night on.
This is simulation for the demo only: it never runs in production.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

from journeyflow import states, warehouse
from journeyflow.config import home, load_config
from journeyflow.config.model import HOLDOUT
from journeyflow.local.demo_source.dataset import DAY, PRODUCTS

BASE = {"birthday": 0.05, "tripwire_offer": 0.03, "upsell": 0.04, "win_back": 0.02}
DEFAULT_BASE = 0.02
LIFT = {("birthday", "main"): 0.10, ("tripwire_offer", "main"): 0.12, ("upsell", "a"): 0.03,
        ("upsell", "b"): 0.07, ("win_back", "main"): 0.14}  # fmt: skip
DEFAULT_LIFT = 0.02


def path() -> Path:
    return home() / "demo_responses.json"


def load() -> dict[str, list]:
    """The simulated purchases so far, per contact id: ``[(epoch, id, type, props, cid)]``."""
    if not path().exists():
        return {}
    out: dict[str, list] = {}
    for ev in json.loads(path().read_text()):
        out.setdefault(ev[4], []).append(tuple(ev))
    return out


def _chance(campaign: str, variant: str, months_quiet: float | None) -> float:
    base = BASE.get(campaign, DEFAULT_BASE)
    if variant == HOLDOUT:
        return base
    lift = LIFT.get((campaign, variant), DEFAULT_LIFT)
    if campaign == "win_back" and months_quiet is not None:  # the longer away, the less it works
        lift *= 0.8 ** max(0.0, months_quiet - 6)
    return base + lift


def simulate(run_date: date) -> int:
    """Draw the purchases answering the messages (and holdouts) of D; returns how many."""
    cfg = load_config()
    start = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=cfg.tz).timestamp()
    window = min(cfg.campaigns.attribution_days, 7) - 0.5
    with warehouse.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select o.contact_id, o.campaign, o.step, coalesce(o.variant, 'main'), "
            "extract(epoch from f.last_order_at) "
            "from journeyflow.outbox o left join journeyflow.contact_facts f using (contact_id) "
            "where o.run_date = %(d)s and o.status = any(%(members)s) order by 1, 2, 3",
            {"d": run_date, "members": list(states.MEASURED)},
        ).all()
    known = {ev[1]: ev for evs in load().values() for ev in evs}
    added = 0
    for contact_id, campaign, step, variant, last_order in rows:
        key = f"{contact_id}:{campaign}:{step}:{run_date}"
        rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
        quiet = (start - float(last_order)) / DAY / 30.44 if last_order is not None else None
        if rng.random() >= _chance(campaign, variant, quiet):
            continue
        product, price = rng.choice(PRODUCTS)
        event_id = "R" + hashlib.sha256(key.encode()).hexdigest()[:16]
        props = {"order_id": f"O-{event_id}", "amount": price, "currency": "EUR",
                 "product": product}  # fmt: skip
        if event_id not in known:
            known[event_id] = (start + rng.uniform(0.05, window) * DAY, event_id, "purchase",
                               props, contact_id)  # fmt: skip
            added += 1
    tmp = path().with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(known.values())))
    tmp.replace(path())
    return added
