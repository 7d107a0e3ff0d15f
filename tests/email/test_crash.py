"""A sender process killed with SIGKILL in the middle of a batch, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from journeyflow import campaigns
from journeyflow.email import sender
from journeyflow.email.admin import resolve
from journeyflow.email.claims import SenderDb
from tests.campaign_world import outbox_rows
from tests.world import DAY, D, T

MESSAGES = 120


def test_killed_sender_then_rerun_delivers_every_message_once(db, world, smtp, config):
    config(lambda raw: raw["campaigns"]["sender"].update(rate_per_second=200, batch_size=50))
    for _ in range(MESSAGES):
        world.subscriber(T - 20 * DAY)  # tripwire_offer
    world.run(D)
    campaigns.decide(D)

    proc = subprocess.Popen(
        [sys.executable, "-m", "journeyflow.cli", "send", "--date", str(D),
         "--campaign", "tripwire_offer"],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(smtp.messages) < 40:
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "the sender subprocess sent nothing"
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    arrived_before_rerun = len(smtp.messages)
    assert arrived_before_rerun < MESSAGES

    result = sender.send("tripwire_offer", D)  # the task retry
    rows = outbox_rows(db)
    states = Counter(r["status"] for r in rows)
    received = Counter(smtp.message_ids())
    assert max(received.values()) == 1, "a message arrived twice"
    # at most one message per SMTP connection can be in doubt
    assert states["sent"] + states["in_doubt"] == MESSAGES and states["in_doubt"] <= 2
    assert result.in_doubt == states["in_doubt"]
    assert {r["message_id"] for r in rows if r["status"] == "sent"} <= set(received)

    # The operator looks the in-doubt Message-ID up in the server log and settles it.
    for row in rows:
        if row["status"] == "in_doubt":
            outcome = "sent" if row["message_id"] in received else "resend"
            resolve(D, outcome, ids=[row["outbox_id"]])
    sender.send("tripwire_offer", D)
    final = Counter(smtp.message_ids())
    assert len(final) == MESSAGES and set(final.values()) == {1}
    assert {r["status"] for r in outbox_rows(db)} == {"sent"}
    with db.transaction() as conn:
        logged = conn.exec_driver_sql("select count(*) from journeyflow.send_log").scalar()
    assert logged == MESSAGES


def test_a_sender_that_lost_its_lock_cannot_send_what_the_next_one_took_over(
    db, world, smtp, config, caplog
):
    for _ in range(6):
        world.subscriber(T - 20 * DAY)  # tripwire_offer
    world.run(D)
    campaigns.decide(D)
    # Sender A claimed every row, then its lock connection died: A looks dead to sender B.
    with db.transaction() as conn:
        claimed = [
            r[0]
            for r in conn.exec_driver_sql(
                "update journeyflow.outbox set status = 'claimed', claimed_at = now(), "
                "claimed_by = 'sender-a' where campaign = 'tripwire_offer' returning outbox_id"
            )
        ]
    assert len(claimed) == 6

    result = sender.send("tripwire_offer", D)  # sender B takes the lock and recovers A's claims
    assert result.released == 6 and result.sent == 6

    # Sender A's worker, still alive, moves on to its next message: the claim is not A's any more.
    a_db = SenderDb()
    try:
        assert not any(a_db.mark_sending(oid, "sender-a") for oid in claimed)
    finally:
        a_db.close()
    lost = [r for r in caplog.records if "claim lost to another sender" in r.getMessage()]
    assert len(lost) == 6
    assert sorted(Counter(smtp.message_ids()).values()) == [1] * 6
    assert {r["status"] for r in outbox_rows(db)} == {"sent"}
