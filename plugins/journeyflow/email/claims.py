"""The sender's own autocommit connection to the outbox: claims and state marks.

Every statement commits on its own. A message's "sent" mark is written together with the next
statement, in the same round trip (usually the next message's "sending" mark): one database
round trip per message, and for those two marks one implicit transaction, both or neither.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import psycopg2.errors

from journeyflow import warehouse
from journeyflow.email.transport import SenderError
from journeyflow.sqlfile import pyformat

log = logging.getLogger(__name__)

_SENT = pyformat("outbox/mark_sent")
_SENDING = pyformat("outbox/mark_sending")
_SENT_THEN_SENDING = f"{_SENT}; {_SENDING}"
ERROR_LENGTH = 500  # stored server replies and errors are cut to this


class SenderDb:
    """One autocommit connection of a sender (or of one of its workers)."""

    def __init__(self) -> None:
        self.raw = warehouse.engine().raw_connection()
        self.raw.driver_connection.autocommit = True
        self.cur = self.raw.driver_connection.cursor()
        self.pending_sent: int | None = None

    def run(self, name: str, **params: Any) -> list[tuple]:
        """Run ``sql/<name>.sql`` (after a pending "sent" mark); its rows, if any."""
        self.flush()
        self.cur.execute(pyformat(name), params)
        return self.cur.fetchall() if self.cur.description else []

    def lock_shard(self, owner: str) -> None:
        """Wait (up to 10 minutes) for the lock of sender shard ``owner`` ("<campaign>/<n>");
        the server releases it when this connection closes or its process dies."""
        self.cur.execute("set lock_timeout = '10min'")
        try:
            self.cur.execute("select pg_advisory_lock(hashtext(%s))", (_lock_name(owner),))
        except psycopg2.errors.LockNotAvailable as exc:
            raise SenderError(
                f"sender shard {owner} is still sending in another task (it held its lock for "
                "10 minutes); nothing was sent here. Let it finish, or stop it, then clear this "
                "task"
            ) from exc

    def try_shard(self, owner: str) -> bool:
        """Take the lock of shard ``owner`` if nobody holds it (its sender is not running)."""
        self.cur.execute("select pg_try_advisory_lock(hashtext(%s))", (_lock_name(owner),))
        return bool(self.cur.fetchone()[0])

    def unlock_shard(self, owner: str) -> None:
        self.cur.execute("select pg_advisory_unlock(hashtext(%s))", (_lock_name(owner),))

    def claim_batch(self, worker: str, campaign: str, d: date, size: int) -> list[tuple]:
        """Claim up to ``size`` due emails of the campaign (rows other workers hold are skipped):
        (outbox_id, recipient, message, attempts, run_date, step, occurrence), in id order."""
        rows = self.run("outbox/claim_batch", worker=worker, campaign=campaign, d=d, batch=size)
        return sorted(rows)

    def unclaim(self, ids: list[int]) -> None:
        """Give back claimed rows that were not tried."""
        self.run("outbox/unclaim", ids=ids)

    def mark_sending(self, outbox_id: int, worker: str) -> bool:
        """Commit "sending" before DATA; False when the claim is no longer ``worker``'s."""
        if self.pending_sent is not None:
            sent, self.pending_sent = self.pending_sent, None
            params = {"sent_id": sent, "id": outbox_id, "worker": worker}
            self.cur.execute(_SENT_THEN_SENDING, params)
        else:
            self.cur.execute(_SENDING, {"id": outbox_id, "worker": worker})
        if self.cur.rowcount == 1:
            return True
        log.warning("outbox %s: claim lost to another sender; not sending it here", outbox_id)
        return False

    def mark_sent(self, outbox_id: int) -> None:
        """The server accepted the message; written with the next statement."""
        self.pending_sent = outbox_id

    def back_to_claimed(self, outbox_id: int) -> None:
        """Not handed over after all (refused before DATA, connection lost before it)."""
        self.run("outbox/back_to_claimed", id=outbox_id)

    def in_doubt(self, outbox_id: int, error: str) -> None:
        """The connection broke during DATA: the server may or may not have the message."""
        self.run("outbox/doubt_data", id=outbox_id, error=error[:ERROR_LENGTH])

    def defer(self, outbox_id: int, attempts: int, error: str, minutes: int) -> None:
        """Back to the queue, for a run at least ``minutes`` later."""
        self.run("outbox/defer", id=outbox_id, attempts=attempts, error=error[:ERROR_LENGTH],
                 minutes=minutes)  # fmt: skip

    def give_up(self, outbox_id: int, attempts: int, error: str) -> None:
        self.run("outbox/give_up", id=outbox_id, attempts=attempts, error=error[:ERROR_LENGTH])

    def bounce(self, outbox_id: int, reply: str) -> None:
        """A hard bounce: the message is bounced and its address suppressed."""
        error = f"hard bounce: {reply}"[:ERROR_LENGTH]
        self.run("outbox/bounce", id=outbox_id, error=error, detail=reply[:ERROR_LENGTH])

    def flush(self) -> None:
        """Write a pending "sent" mark now (before a pause, at the end)."""
        if self.pending_sent is not None:
            sent, self.pending_sent = self.pending_sent, None
            self.cur.execute(_SENT, {"sent_id": sent})

    def close(self) -> None:
        try:
            self.flush()
            self.cur.execute("select pg_advisory_unlock_all(); reset lock_timeout")
            self.raw.driver_connection.autocommit = False  # back to the pool as it came
        finally:
            self.raw.close()


def owner(campaign: str, shard: int) -> str:
    """The name of a sender shard, which prefixes its claims: ``<campaign>/<shard>``."""
    return f"{campaign}/{shard}"


def _lock_name(owner: str) -> str:
    return f"journeyflow.sender:{owner}"


def recover(db: SenderDb, campaign: str, shard: int) -> tuple[int, int]:
    """After taking the shard's lock: undo what a dead sender of this shard (or of any other
    shard whose lock is free, e.g. after ``sender.shards`` shrank) left, and cancel what was
    queued before its contact unsubscribed or bounced. Returns (released, in_doubt)."""
    cancelled = db.run("outbox/cancel_suppressed", campaign=campaign)
    if cancelled:
        log.info("%s: %d queued message(s) cancelled: suppressed since", campaign, len(cancelled))
    mine = owner(campaign, shard)
    released, doubtful = [], []
    for (other,) in db.run("outbox/claim_owners", campaign=campaign):
        if other != mine and not db.try_shard(other):
            continue  # that shard's sender is alive: its claims are its own
        released += db.run("outbox/release_claims", campaign=campaign, owner=other)
        doubtful += db.run("outbox/doubt_sending", campaign=campaign, owner=other)
        if other != mine:
            db.unlock_shard(other)
    if doubtful:
        log.warning(
            "%s: %d message(s) in doubt (outbox ids %s): the previous sender died after handing "
            "them to SMTP; check the mail server log for their Message-ID, then "
            "`journeyflow outbox --date D --id N --resolve sent|resend`",
            campaign, len(doubtful), [r[0] for r in doubtful],
        )  # fmt: skip
    return len(released), len(doubtful)
