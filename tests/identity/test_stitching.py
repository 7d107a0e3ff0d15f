"""Anonymous visitors, identify, first touch and the funnel's flybys, through the ingest.

D = 2026-11-20, cut-off T = 2026-11-21 00:00 Berlin (2026-11-20 23:00 UTC).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from journeyflow import lifecycle
from tests.identity.conftest import night

D = date(2026, 11, 20)
D2 = D + timedelta(days=1)


def contact(cid: str, created: str = "2026-11-01T08:00:00Z") -> dict:
    return {"id": cid, "email": f"{cid.lower()}@example.de", "created_at": created,
            "updated_at": created, "email_consent": {"status": "none"}}  # fmt: skip


def view(eid: str, aid: str, when: str) -> dict:
    return {"id": eid, "anonymous_id": aid, "type": "page_view", "occurred_at": when,
            "properties": {"path": "/produkte"}}  # fmt: skip


def identify(eid: str, aid: str, cid: str, when: str) -> dict:
    return {"id": eid, "contact_id": cid, "anonymous_id": aid, "type": "identify",
            "occurred_at": when}  # fmt: skip


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def facts(db, cid: str) -> dict:
    with db.transaction() as conn:
        return dict(
            conn.execute(
                text("select * from journeyflow.contact_facts where contact_id = :c"), {"c": cid}
            ).mappings().one()
        )  # fmt: skip


def funnel(db, day) -> dict:
    with db.transaction() as conn:
        rows = conn.execute(
            text("select stage, people from journeyflow.v_funnel where run_date = :d"), {"d": day}
        )
        return dict(rows.all())


def table(db, sql: str) -> list:
    with db.transaction() as conn:
        return conn.exec_driver_sql(sql).all()


WORLD = (
    [contact("C1"), contact("C2")],
    [
        # A1 browsed before C1 signed up, and was identified as C1 before T
        view("V1", "A1", "2026-10-01T10:00:00Z"),
        view("V2", "A1", "2026-10-02T10:00:00Z"),
        {
            "id": "P1",
            "anonymous_id": "A1",
            "type": "purchase",
            "occurred_at": "2026-10-03T10:00:00Z",
            "properties": {
                "order_id": "O1",
                "amount": 19.9,
                "currency": "EUR",
                "product": "Stativ",
            },
        },
        identify("I1", "A1", "C1", "2026-11-01T08:05:00Z"),
        # A2 is identified as C1 only after T: it counts from the run of D+1 on
        view("V3", "A2", "2026-11-15T10:00:00Z"),
        identify("I2", "A2", "C1", "2026-11-21T09:00:00Z"),
        # flybys: A3 within the 30 days before T, A4 before them
        view("V4", "A3", "2026-11-18T10:00:00Z"),
        view("V5", "A4", "2026-10-01T10:00:00Z"),
        {
            "id": "E1",
            "contact_id": "C2",
            "type": "page_view",
            "occurred_at": "2026-11-19T10:00:00Z",
        },
    ],
)


def test_anonymous_events_are_kept_and_count_for_the_contact_once_identified(db, source):
    source(*WORLD)
    night(D)
    assert table(db, "select count(*) from journeyflow.anonymous_events") == [(6,)]
    assert table(db, "select count(*) from journeyflow.quarantine") == [(0,)]
    assert table(db, "select anonymous_id, contact_id from journeyflow.identities order by 1") == [
        ("A1", "C1"),
        ("A2", "C1"),
    ]
    c1 = facts(db, "C1")
    # A1's views (1 point each) and its purchase (20) count, decayed; A2's view waits for D+1
    assert c1["order_count"] == 1 and c1["first_product"] == "Stativ"
    assert c1["anonymous_ids"] == 1
    assert c1["first_touch_at"] == at("2026-10-01T10:00:00Z")
    assert c1["score"] == pytest.approx(
        sum(p * 0.5 ** (age / 90) for p, age in ((1, 50.54), (1, 49.54), (20, 48.54))), rel=1e-3
    )
    assert facts(db, "C2")["first_touch_at"] == at("2026-11-01T08:00:00Z")
    # flybys: A3 and A2 (seen in the 30 days before T, not identified before T)
    assert funnel(db, D) == {"flyby": 2, "known": 1, "customer": 1, "regular": 0}

    source([], [])
    night(D2)
    assert facts(db, "C1")["anonymous_ids"] == 2
    assert funnel(db, D2) == {"flyby": 1, "known": 1, "customer": 1, "regular": 0}
    why = lifecycle.explain("C1", D)
    assert [(v["anonymous_id"], v["counted"], v["events"]) for v in why["visitors"]] == [
        ("A1", True, 3), ("A2", False, 1),
    ]  # fmt: skip


def test_a_rerun_of_d_changes_nothing(db, source):
    state = (
        "select (select count(*) from journeyflow.anonymous_events), "
        "(select count(*) from journeyflow.identities), "
        "(select string_agg(stage || people, ',' order by stage) from journeyflow.v_funnel), "
        "(select sum(score) from journeyflow.contact_facts)"
    )
    source(*WORLD)
    night(D)
    snapshot = table(db, state)
    night(D)
    assert table(db, state) == snapshot


def test_an_anonymous_id_belongs_to_one_contact_a_second_identify_is_quarantined(db, source):
    source(*WORLD)
    night(D)
    source(
        [contact("C3")],
        [
            identify("I3", "A1", "C2", "2026-11-21T10:00:00Z"),  # A1 is C1's already
            identify("I4", "A9", "C2", "2026-11-21T10:00:00Z"),  # in one batch: the first wins
            identify("I5", "A9", "C3", "2026-11-21T11:00:00Z"),
            identify("I6", "A1", "C1", "2026-11-21T12:00:00Z"),  # the same link again: fine
        ],
    )
    night(D2)
    assert table(db, "select anonymous_id, contact_id from journeyflow.identities order by 1") == [
        ("A1", "C1"),
        ("A2", "C1"),
        ("A9", "C2"),
    ]
    first = table(db, "select identified_at from journeyflow.identities where anonymous_id = 'A1'")
    assert first[0][0] == at("2026-11-01T08:05:00Z")  # the first identify keeps its time
    quarantined = table(
        db, "select record_id, reason from journeyflow.quarantine order by record_id"
    )
    reason = (
        "identify: the anonymous_id is already linked to another contact (one visitor, one contact)"
    )
    assert quarantined == [("I3", reason), ("I5", reason)]


def test_malformed_identity_records_are_quarantined_with_the_reason(db, source):
    source(
        [contact("C1")],
        [
            {"id": "X1", "type": "page_view", "occurred_at": "2026-11-19T10:00:00Z"},
            {"id": "X2", "contact_id": "C1", "type": "identify",
             "occurred_at": "2026-11-19T10:00:00Z"},
            {"id": "X3", "anonymous_id": "A1", "type": "identify",
             "occurred_at": "2026-11-19T10:00:00Z"},
            {"id": "X4", "anonymous_id": "A1", "type": "erasure_request",
             "occurred_at": "2026-11-19T10:00:00Z"},
            {"id": "X5", "anonymous_id": "", "type": "page_view",
             "occurred_at": "2026-11-19T10:00:00Z"},
        ],
    )  # fmt: skip
    night(D, gate=False)
    assert dict(table(db, "select record_id, reason from journeyflow.quarantine")) == {
        "X1": "missing contact_id (or anonymous_id for an anonymous visitor)",
        "X2": "identify: needs both contact_id and anonymous_id",
        "X3": "identify: needs both contact_id and anonymous_id",
        "X4": "erasure_request: missing contact_id",
        "X5": "missing anonymous_id",
    }


def test_the_cohorts_count_days_from_first_touch_to_first_order(db, source):
    source(*WORLD)
    night(D)
    with db.transaction() as conn:
        rows = conn.execute(
            text(
                "select first_touch_month, contacts, buyers, median_days_to_first_order "
                "from journeyflow.report_cohorts where run_date = :d order by 1"
            ),
            {"d": D},
        ).all()
    # C1: first touch 2026-10-01 10:00 (A1's first view), first order two days later
    assert [(str(m), c, b, round(x, 3) if x else x) for m, c, b, x in rows] == [
        ("2026-10-01", 1, 1, 2.0), ("2026-11-01", 1, 0, None),
    ]  # fmt: skip
