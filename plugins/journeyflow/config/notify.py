"""``alerts`` and ``summary``: who is told when a night needs a person, and who gets the morning
summary after a good one."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from journeyflow.config.model import AlertsConfig, SummaryConfig
from journeyflow.config.validate import Section, fail, listing, shown

ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
LANGUAGES = ("de", "en")


def _addresses(s: Section, key: str) -> tuple[str, ...]:
    where = s.where(key)
    found = listing(s.get(key, []), where, "[marketing@shop.example]")
    for value in found:
        if not isinstance(value, str) or not ADDRESS.match(value):
            fail(f"{where} lists email addresses like marketing@shop.example, got {shown(value)}")
    return tuple(found)


def read_alerts(value: Any) -> AlertsConfig:
    """``alerts``: the addresses a failed night (or one that needs a person) is sent to."""
    s = Section(value, "alerts", ("to",))
    return AlertsConfig(to=_addresses(s, "to"))


def read_summary(value: Any) -> SummaryConfig:
    """``summary``: the morning summary's addresses, language and the cockpit's address."""
    s = Section(value, "summary", ("to", "language", "cockpit_url"))
    url = s.get("cockpit_url", None)
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            fail(f"summary.cockpit_url must be the cockpit's address, e.g. "
                 f"https://airflow.shop.example/journeyflow, got {shown(url)}")  # fmt: skip
        url = url.rstrip("/")
    return SummaryConfig(
        to=_addresses(s, "to"), language=s.choice("language", LANGUAGES, "de"), cockpit_url=url
    )
