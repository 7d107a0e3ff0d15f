"""The demo shop: deterministic, realistic, and served over the contract with a moving clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import requests

from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

A = date(2026, 11, 20)


def test_same_seed_same_data():
    one, two = DemoDataset(50, anchor=A), DemoDataset(50, anchor=A)
    for i in range(50):
        a, b = one.timeline(i), two.timeline(i)
        assert a.contact == b.contact and a.events == b.events and a.visits == b.visits
    everything = (float("-inf"), float("inf"))
    records = [one.event_records(one.timeline(i), *everything) for i in range(50)]
    assert records == [two.event_records(two.timeline(i), *everything) for i in range(50)]
    other = DemoDataset(50, anchor=A, seed=7)
    assert [other.timeline(i).visits for i in range(50)] != [
        one.timeline(i).visits for i in range(50)
    ]


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
        types.update(
            e["type"]
            for e in ds.event_records(tl, float("-inf"), ds.t_anchor)
            if "anonymous_id" not in e  # the contacts' own events; visitors: see below
        )
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


def _all_events(ds: DemoDataset, clock: float = float("inf")) -> list[dict]:
    return [e for i in range(ds.size) for e in ds.event_records(ds.timeline(i), -1e12, clock)]


def test_most_events_are_anonymous_visitors():
    ds = DemoDataset(2000, anchor=A)
    events = _all_events(ds, ds.t_anchor)
    assert len({e["id"] for e in events}) == len(events)
    anonymous = [e for e in events if "contact_id" not in e]
    assert len(anonymous) > len(events) / 2
    assert all(e["anonymous_id"] and e["type"] == "page_view" for e in anonymous)
    assert all(set(e["properties"]) == {"path"} for e in anonymous)  # no personal data
    assert all(e.get("contact_id") or e.get("anonymous_id") for e in events)
    identifies = [e for e in events if e["type"] == "identify"]
    assert 0.3 * ds.size < len(identifies) < 0.5 * ds.size
    assert all(e["contact_id"] and e["anonymous_id"] for e in identifies)
    visitors = Counter(e["anonymous_id"] for e in anonymous)
    assert 1.5 < len(visitors) / ds.size < 3 and 3 < len(anonymous) / len(visitors) < 7
    # flybys keep coming: a later clock shows anonymous traffic after A as well
    later = _all_events(ds, ds.t_anchor + 30 * 86400)
    assert sum("contact_id" not in e for e in later) > len(anonymous) + 0.5 * ds.size


def test_identify_links_visitors_before_signup_second_devices_and_a_conflict():
    ds = DemoDataset(1500, anchor=A)  # contact indexes 500 and 1497 identify someone else's
    created = {tl.contact["id"]: tl.created for tl in map(ds.timeline, range(ds.size))}
    events = _all_events(ds)
    owner: dict[str, tuple[str, str]] = {}
    conflicts = []
    for e in sorted((e for e in events if e["type"] == "identify"), key=lambda e: e["occurred_at"]):
        first = owner.setdefault(e["anonymous_id"], (e["contact_id"], e["occurred_at"]))
        if first[0] != e["contact_id"]:
            conflicts.append((e, first))
    assert {e["contact_id"] for e, _ in conflicts} == {"C0000501", "C0001498"}
    assert all(e["occurred_at"] > first[1] for e, first in conflicts)
    devices = Counter(contact for contact, _ in owner.values())
    assert any(n >= 2 for n in devices.values())  # second devices
    assert len(devices) > 0.3 * ds.size
    before_signup = {
        owner[e["anonymous_id"]][0]
        for e in events
        if e["type"] == "page_view"
        and e.get("anonymous_id") in owner
        and _epoch(e["occurred_at"]) < created[owner[e["anonymous_id"]][0]]
    }
    assert len(before_signup) > 0.3 * ds.size  # their first touch predates created_at
    for cid in before_signup:
        signup = next(e for e in events if e["type"] == "identify" and e.get("contact_id") == cid)
        assert -1 <= _epoch(signup["occurred_at"]) - created[cid] <= 301  # whole seconds


def test_incremental_pulls_serve_every_event_once():
    ds = DemoDataset(80, anchor=A)
    with DemoSourceServer(ds, clock=ds.t_anchor - 5 * 86400) as src:

        def pull(since: str | None = None) -> list[str]:
            ids, cursor = [], None
            while True:
                params = {"limit": 37, **({"cursor": cursor} if cursor else {})}
                params |= {"since": since} if since else {}
                body = requests.get(src.url + "/events", params=params, timeout=5).json()
                ids += [(e["id"], "contact_id" in e) for e in body["data"]]
                if (cursor := body["next_cursor"]) is None:
                    return ids

        first = pull()
        mark = datetime.fromtimestamp(src.clock, UTC).isoformat()
        src.clock = ds.t_anchor + 20 * 86400
        delta = pull(mark)
        everything = pull()
    assert sorted(first + delta) == sorted(everything)
    assert len(set(everything)) == len(everything)
    assert any(not has_contact for _, has_contact in delta)  # visitors in the delta too


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
