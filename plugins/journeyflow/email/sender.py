"""The sender: queued emails of a campaign go out exactly once, or are reported in doubt.

``send`` takes the campaign's lock (a PostgreSQL advisory lock, released by the server when a
sender process dies), returns rows a dead sender had claimed but not yet handed to SMTP, marks
rows it had handed over as ``in_doubt``, then claims batches. Each message is marked
``sending`` in a committed statement *before* SMTP DATA and ``sent`` after the server's 250
(in the same round trip as the next message's ``sending`` mark); the only window left is
between the 250 and that mark, and a crash there leaves at most one ``in_doubt`` row per SMTP
connection, reported and never resent on its own.
"""

from __future__ import annotations

import logging
import os
import random
import re
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from journeyflow import progress, warehouse
from journeyflow.config import SenderConfig, load_config
from journeyflow.connections import local_mode
from journeyflow.email.claims import SenderDb, owner, recover
from journeyflow.email.transport import (
    FileTransport,
    NotHandedOver,
    Refused,
    SenderError,
    SmtpTransport,
    sender_address,
    transport,
)
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement
from journeyflow.unsubscribe.links import base_url, check_reachable, public_problem

log = logging.getLogger(__name__)

REFUSED_STREAK = 3  # refusals in a row (not hard bounces) that stop a sender connection
_LIST_UNSUBSCRIBE = re.compile(r"^List-Unsubscribe: <([^>]*)>", re.MULTILINE)


@dataclass
class SendResult:
    campaign: str
    sent: int = 0
    bounced: int = 0
    deferred: int = 0
    failed: int = 0
    in_doubt: int = 0
    released: int = 0
    worker: str = ""  # JOURNEYFLOW_WORKER (a Celery worker's name) or the host name
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    refused_streak: int = field(default=0, repr=False)  # 5xx refusals in a row, not bounces

    def as_dict(self) -> dict[str, Any]:
        skip = ("errors", "refused_streak")
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {
            "errors": self.errors[:20]
        }

    def add(self, other: SendResult) -> None:
        for key in ("sent", "bounced", "deferred", "failed", "in_doubt"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.errors += other.errors


def send(campaign: str, d: date, shard: int = 0, shards: int | None = None) -> SendResult:
    """Send the queued emails of one campaign (run dates up to D) as shard ``shard`` of
    ``shards`` (``sender.shards``). Safe to run again any time, on any machine.

    Every shard takes its own lock and ``sender.connections`` workers, each with its own SMTP
    connection; all of them claim batches from the campaign's one queue (``for update skip
    locked``), so N shards on N Celery workers send one campaign together.
    """
    cfg = load_config().campaigns.sender
    shards = cfg.shards if shards is None else shards
    worker = os.environ.get("JOURNEYFLOW_WORKER") or socket.gethostname()
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} of {shards}: a shard is 0..{shards - 1}")
    real_mail = isinstance(transport(), SmtpTransport) and not local_mode()
    if real_mail:  # mail to customers: links they can use
        check_reachable(base_url())
    result = SendResult(campaign, worker=worker)
    started = time.perf_counter()
    db = SenderDb()
    me = owner(campaign, shard)
    try:
        db.lock_shard(me)
        result.released, result.in_doubt = recover(db, campaign, shard)
        pacer = _Pacer(cfg.rate_per_second)
        stop = threading.Event()
        results = [SendResult(campaign) for _ in range(cfg.connections)]
        errors: list[BaseException] = []
        with warehouse.transaction() as conn:
            waiting = conn.execute(statement("outbox/waiting_of"),
                                   {"campaign": campaign, "d": d}).scalar_one()  # fmt: skip
        name = f"send.{campaign}" if shards == 1 else f"send.{campaign}[{shard}]"

        def work(i: int, bar: progress.Bar) -> None:
            try:
                _worker(
                    campaign, f"{me}|{worker}", d, cfg, transport(), pacer, stop, results[i],
                    real_mail, bar.advance,
                )  # fmt: skip
            except BaseException as exc:  # first failure stops the others; raised below
                errors.append(exc)
                stop.set()

        with progress.bar(name, "messages", total=waiting) as bar:
            threads = [
                threading.Thread(target=work, args=(i, bar), daemon=True)
                for i in range(len(results))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for r in results:
            result.add(r)
        if errors:
            raise errors[0]
    finally:
        result.seconds = time.perf_counter() - started
        db.close()
    with warehouse.transaction() as conn:
        step = StepResult(name, result.sent, result.sent, 0, result.seconds, result.as_dict())
        record_step(conn, d, step)
    log.info(
        "%s: sent %d, bounced %d, deferred %d, failed %d, in doubt %d (shard %d of %d, %s)",
        campaign, result.sent, result.bounced, result.deferred, result.failed, result.in_doubt,
        shard, shards, worker,
    )  # fmt: skip
    return result


class _Pacer:
    """The configured messages per second, shared by the workers (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.pace = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.pace:
            return
        with self.lock:
            self.next_at = max(self.next_at + self.pace, time.monotonic())
            due = self.next_at
        time.sleep(max(0.0, due - time.monotonic()))


def _worker(
    campaign: str,
    me: str,
    d: date,
    cfg: SenderConfig,
    tr: Any,
    pacer: _Pacer,
    stop: threading.Event,
    result: SendResult,
    real_mail: bool,
    tried: Any = None,
) -> None:
    """Claim batches and deliver them until the campaign's queue is empty (or stop is set).
    Claims carry ``me`` (shard and worker) and this thread:
    ``<campaign>/<shard>|<worker>:pid:thread:ns``."""
    sender = sender_address()
    worker_id = f"{me}:{os.getpid()}:{threading.get_ident()}:{time.time_ns()}"
    db = SenderDb()
    batch: list[tuple] = []
    try:
        _open(tr, cfg)
        while not stop.is_set():
            batch = db.claim_batch(worker_id, campaign, d, cfg.batch_size)
            if not batch:
                break
            for oid, rcpt, message, attempts, run_date, step, occ in batch:
                if stop.is_set():
                    break
                if pacer.pace:
                    db.flush()  # do not keep a sent mark waiting while we pause
                    pacer.wait()
                row = {"outbox_id": oid, "run_date": run_date, "campaign": campaign,
                       "step": step, "occurrence": occ}  # fmt: skip
                if real_mail:
                    _check_link(oid, message)
                _deliver(db, tr, cfg, sender, row, rcpt, message, attempts, result, worker_id)
                if tried is not None:
                    tried()
            else:
                batch = []
    finally:
        try:
            if batch:  # stopped early: what this worker claimed but did not try goes back
                db.unclaim([b[0] for b in batch])
        finally:
            tr.close()
            db.close()


def _open(tr: Any, cfg: SenderConfig) -> None:
    """Connect, retrying with backoff; SenderError naming the server when it stays unreachable."""
    for attempt in range(cfg.retries + 1):
        try:
            tr.open()
            return
        except (OSError, smtplib.SMTPException) as exc:
            if attempt == cfg.retries:
                raise SenderError(
                    f"{tr.describe()} unreachable after {attempt + 1} attempts ({exc}); "
                    "the messages stay queued and the next try sends them"
                ) from exc
            time.sleep(_backoff(cfg, attempt))


def _backoff(cfg: SenderConfig, attempt: int) -> float:
    return cfg.backoff_seconds * (2**attempt) * (0.5 + random.random() / 2)


def _deliver(
    db: SenderDb,
    tr: Any,
    cfg: SenderConfig,
    sender: str,
    row: dict[str, Any],
    rcpt: str,
    message: str,
    attempts: int,
    result: SendResult,
    worker_id: str,
) -> None:
    """One message: prepare (MAIL/RCPT), mark sending, DATA, mark sent; retries for 4xx."""
    oid = row["outbox_id"]
    body = message.encode("ascii")
    last = ""
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(_backoff(cfg, attempt - 1))
        try:
            if isinstance(tr, FileTransport):
                if not _sending(db, oid, worker_id, result):
                    return
                tr.write(row, body)
            else:
                if tr.smtp is None:
                    _open(tr, cfg)
                tr.prepare(sender, rcpt)
                if not _sending(db, oid, worker_id, result):
                    tr.rset()
                    return
                tr.data(body)
            db.mark_sent(oid)
            result.sent += 1
            result.refused_streak = 0
            return
        except Refused as exc:
            last = str(exc)
            if exc.code >= 500 and exc.refuses_us:
                db.back_to_claimed(oid)
                raise SenderError(
                    f"{tr.describe()} refuses to send for us ({exc}); check the connection's "
                    "login and from_email. Nothing was suppressed; the messages stay queued"
                ) from exc
            if exc.mailbox_gone:
                db.bounce(oid, str(exc))
                result.bounced += 1
                result.errors.append(f"outbox {oid}: {exc}")
                result.refused_streak = 0
                return
            if exc.code >= 500:
                # A policy, a quota, the content: about this message, or about every message
                # for now? It waits for a later run; three in a row stop this run.
                result.refused_streak += 1
                if result.refused_streak >= REFUSED_STREAK:
                    _defer(db, cfg, oid, attempts + 1, last, result)
                    raise SenderError(
                        f"{tr.describe()} refused {REFUSED_STREAK} messages in a row ({exc}); "
                        "relaying, a quota or the content? Nothing was suppressed; the "
                        "messages stay queued for a later run"
                    ) from exc
                break
            db.back_to_claimed(oid)
        except NotHandedOver as exc:
            last = f"connection lost before DATA: {exc}"
            db.back_to_claimed(oid)
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            # The connection broke during DATA: the server may or may not have the message.
            tr.smtp = None
            db.in_doubt(oid, f"connection lost during DATA: {exc}")
            result.in_doubt += 1
            result.errors.append(f"outbox {oid}: in doubt ({exc})")
            return
    # Still refused (4xx, a policy) or unreachable after the retries of this run.
    _defer(db, cfg, oid, attempts + 1, last, result)
    if isinstance(tr, SmtpTransport) and tr.smtp is None:
        _open(tr, cfg)  # raises SenderError when the server is gone for good


def _check_link(oid: int, message: str) -> None:
    """A message rendered when the links pointed elsewhere (a local run) never goes out."""
    found = _LIST_UNSUBSCRIBE.search(message[:16384])
    problem = public_problem(found.group(1)) if found else "it has no List-Unsubscribe header"
    if problem:
        raise SenderError(
            f"outbox {oid}: its unsubscribe link cannot be used by the recipient ({problem}); "
            "it was rendered before connection journeyflow_unsubscribe pointed at the public "
            "endpoint. Nothing was sent; cancel such messages with `journeyflow outbox --date D "
            "--campaign C --cancel-queued` and the next run queues them again with good links"
        )


def _sending(db: SenderDb, oid: int, worker_id: str, result: SendResult) -> bool:
    if db.mark_sending(oid, worker_id):
        return True
    result.errors.append(f"outbox {oid}: claim lost to another sender")
    return False


def _defer(
    db: SenderDb, cfg: SenderConfig, oid: int, total: int, last: str, result: SendResult
) -> None:
    """Back to the queue for a later run, or failed once ``max_attempts`` are used up."""
    if total >= cfg.max_attempts:
        db.give_up(oid, total, f"gave up after {total} attempts: {last}")
        result.failed += 1
    else:
        db.defer(oid, total, last, cfg.defer_minutes)
        result.deferred += 1
    result.errors.append(f"outbox {oid}: {last}")
