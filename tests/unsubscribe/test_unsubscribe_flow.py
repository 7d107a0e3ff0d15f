"""The unsubscribe link end to end: a suppression recorded through the endpoint is honoured by
the next run.
"""

from __future__ import annotations

from datetime import timedelta

from tests.campaign_world import (
    decisions,
    run_day,
    subscribed_customer,
)
from tests.world import DAY, D, T


def test_unsubscribe_link_is_honoured_next_run(db, world, smtp, config):
    from fastapi.testclient import TestClient

    from journeyflow import unsubscribe

    cid = subscribed_customer(world, T - 60 * DAY)  # upsell
    run_day(world, D)
    url = str(smtp.messages[0]["List-Unsubscribe"]).strip("<>")
    token = url.rsplit("/", 1)[-1]
    client = TestClient(unsubscribe.create_app())
    assert client.get(f"/u/{token}").status_code == 200  # a link scanner: nothing happens
    assert (
        client.post(f"/u/{token[:-2]}xx", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    )
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select count(*) from journeyflow.suppressions").scalar() == 0
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    world.subscriber(T - 20 * DAY)  # somebody else, still mailed
    next_day = D + timedelta(days=1)
    run_day(world, next_day)
    assert decisions(db, next_day, cid)[0]["reason"] == "unsubscribed (link in an email)"
    assert world.flags(cid)["email_ok"] is False
    assert [m["X-Campaign"] for m in smtp.messages] == ["upsell", "tripwire_offer"]
