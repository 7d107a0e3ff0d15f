"""The demo shop: deterministic, realistic, and served over the contract with a moving clock."""

from __future__ import annotations

from collections import Counter
from datetime import date

import requests

from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

A = date(2026, 11, 20)


def test_same_seed_same_data():
    one, two = DemoDataset(50, anchor=A), DemoDataset(50, anchor=A)
    for i in range(50):
        a, b = one.timeline(i), two.timeline(i)
        assert a.contact == b.contact and a.events == b.events


def test_covers_the_edge_cases_the_rules_need():
    ds = DemoDataset(3000, anchor=A)
    types, countries, statuses = Counter(), Counter(), Counter()
    missing_address = umlauts = 0
    for i in range(ds.size):
        tl = ds.timeline(i)
        c = ds.contact_as_of(tl, ds.t_anchor)
        if c is None:
            continue
        countries[c["country"]] += 1
        statuses[c["email_consent"]["status"]] += 1
        missing_address += any(c[k] is None for k in ("street", "postal_code", "city"))
        umlauts += any(ch in (c["last_name"] + c["first_name"]) for ch in "äöüßÄÖÜ")
        types.update(e["type"] for e in ds.event_records(tl, float("-inf"), ds.t_anchor))
    assert set(types) >= {
        "page_view", "comment", "newsletter_signup", "email_open", "email_click", "purchase",
        "review", "referral", "payment_overdue", "unsubscribe", "email_bounce", "postal_return",
    }  # fmt: skip
    assert set(countries) == {"DE", "AT", "CH"}
    assert set(statuses) == {"confirmed", "pending", "none", "revoked"}
    assert missing_address > 0 and umlauts > 0
    assert 8 <= types.total() / ds.size <= 12


def test_server_pages_respect_limit_cursor_auth_and_clock():
    ds = DemoDataset(120, anchor=A)
    with DemoSourceServer(ds, token="t") as src:
        assert requests.get(src.url + "/events", timeout=5).status_code == 401
        auth = {"Authorization": "Bearer t"}
        ids, cursor = [], None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = requests.get(src.url + "/events", params=params, headers=auth, timeout=5).json()
            assert len(body["data"]) <= 100
            ids += [e["id"] for e in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(ids) == len(set(ids))
        before = len(ids)
        src.clock += 10 * 86400  # ten days later there is more to see
        later = requests.get(
            src.url + "/events", params={"limit": 10000}, headers=auth, timeout=5
        ).json()
        assert len(later["data"]) > before
        bad = requests.get(src.url + "/events", params={"limit": 0}, headers=auth, timeout=5)
        assert bad.status_code == 400
