"""Which demo dataset the default source serves: fixed at first use, so later runs see deltas."""

from __future__ import annotations

import json
import os
from datetime import date

from journeyflow.config import home, load_config
from journeyflow.local.demo_source import responses
from journeyflow.local.demo_source.dataset import DemoDataset

DEFAULT_CONTACTS = 5000


def _path():
    return home() / "demo_source.json"


def pin(contacts: int, anchor: date, seed: int = 42) -> None:
    """Pin the demo dataset (size, anchor date, seed) for this ``$JOURNEYFLOW_HOME``; the
    simulated responses to an earlier dataset go with it."""
    responses.path().unlink(missing_ok=True)
    _path().write_text(
        json.dumps({"contacts": contacts, "anchor": anchor.isoformat(), "seed": seed})
    )


def dataset_for(run_date: date) -> DemoDataset:
    """The pinned dataset, pinning one anchored at ``run_date`` on first use."""
    path = _path()
    if not path.exists():
        size = int(os.environ.get("JOURNEYFLOW_DEMO_CONTACTS") or DEFAULT_CONTACTS)
        pin(size, run_date)
    spec = json.loads(path.read_text())
    return DemoDataset(
        spec["contacts"],
        anchor=date.fromisoformat(spec["anchor"]),
        seed=spec["seed"],
        timezone=load_config().timezone,
        extra=responses.load(),
    )
