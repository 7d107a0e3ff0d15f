"""The outbox: queued messages are sent exactly once, or reported when that cannot be known.

``enqueue`` runs inside the decision transaction: every queued decision becomes one outbox row
with its rendered message, keyed by (contact, campaign, step, occurrence), so a rerun of D finds
its rows instead of adding new ones. ``send`` is the sender: it takes a per-campaign lock (a
PostgreSQL advisory lock, released by the server when a sender process dies), returns rows a dead
sender had claimed but not yet handed to SMTP, marks rows it had handed over as ``in_doubt``, then
claims batches. Each message is marked ``sending`` in a committed statement *before* SMTP DATA
and ``sent`` after the server's 250 (in the same round trip as the next message's ``sending``
mark); the only window left is between the 250 and that mark, and a crash there leaves at most
one ``in_doubt`` row per SMTP connection, reported and never resent on its own.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import settings, warehouse
from journeyflow.connections import get_connection
from journeyflow.pipeline import StepResult, record_step

log = logging.getLogger(__name__)

SMTP_CONN_ID = "journeyflow_smtp"
RENDER_CHUNK = 1000
PARALLEL_FROM = 5000  # queued emails from which rendering runs in worker processes

# What rendering needs of a contact, in the field order of ``render.Recipient``.
RECIPIENT_COLUMNS = """
c.contact_id, c.email, c.language, c.salutation, c.title, c.first_name, c.last_name, c.city,
coalesce(f.order_count, 0), f.first_product, f.last_product, f.first_order_at, f.last_order_at
"""

RECIPIENTS_SQL = f"""
select d.campaign, d.step, d.occurrence, {RECIPIENT_COLUMNS}
from decided d
join journeyflow.contacts c using (contact_id)
left join journeyflow.contact_facts f using (contact_id)
where d.decision = 'queued' and d.channel = 'email'
  and not exists (
      select 1 from journeyflow.outbox o
      where o.contact_id = d.contact_id and o.campaign = d.campaign and o.step = d.step
        and o.occurrence = d.occurrence
  )
order by d.campaign, d.contact_id
"""


class SenderError(RuntimeError):
    """Sending cannot go on (SMTP unreachable, ...); the queued messages stay queued."""


def load_recipient(contact_id: str) -> Any | None:
    """One contact as ``render.Recipient`` (``journeyflow preview``), or None."""
    from journeyflow.render import Recipient

    with warehouse.transaction() as conn:
        row = conn.execute(
            text(
                f"select {RECIPIENT_COLUMNS} from journeyflow.contacts c "
                "left join journeyflow.contact_facts f using (contact_id) "
                "where c.contact_id = :c"
            ),
            {"c": contact_id},
        ).first()
    return Recipient(*row) if row is not None else None


def enqueue(conn: Connection, d: date) -> int:
    """Outbox rows for the queued decisions in ``decided`` (same transaction). Returns new rows."""
    from journeyflow.render import Renderer

    # Emails still waiting from earlier run dates whose contact may no longer be mailed.
    conn.execute(
        text(
            "update journeyflow.outbox o set status = 'cancelled', "
            "last_error = 'no longer allowed on ' || :d || ': ' "
            "|| coalesce(f.email_block, 'email not allowed') "
            "from journeyflow.contact_facts f where f.contact_id = o.contact_id "
            "and o.channel = 'email' and o.status = 'queued' and o.run_date < :d "
            "and not f.email_ok"
        ),
        {"d": d},
    )
    # Rows of an earlier run of D that this run no longer chooses: cancelled, not sent.
    conn.execute(
        text(
            "update journeyflow.outbox o set status = 'cancelled', "
            "last_error = 'no longer chosen when this run date was run again' "
            "where o.run_date = :d and o.status = 'queued' and not exists ("
            "  select 1 from decided d where d.decision = 'queued' and d.contact_id = o.contact_id"
            "  and d.campaign = o.campaign and d.step = o.step and d.occurrence = o.occurrence)"
        ),
        {"d": d},
    )
    conn.execute(
        text(
            "update journeyflow.outbox o set status = 'queued', last_error = null "
            "from decided d where o.status = 'cancelled' and o.run_date = :d "
            "and d.decision = 'queued' and d.contact_id = o.contact_id "
            "and d.campaign = o.campaign and d.step = o.step and d.occurrence = o.occurrence"
        ),
        {"d": d},
    )
    new = conn.execute(
        text(
            "insert into journeyflow.outbox "
            "(contact_id, campaign, step, occurrence, channel, run_date) "
            "select contact_id, campaign, step, occurrence, channel, :d from decided "
            "where decision = 'queued' and channel <> 'email' on conflict do nothing"
        ),
        {"d": d},
    ).rowcount
    renderer = Renderer().with_sender(sender_address())
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute(RECIPIENTS_SQL)
        rows = cur.fetchall()  # small tuples; the messages are rendered chunk by chunk below
    now = datetime.now(settings.load_config().tz)
    chunks = [(d, now, rows[i : i + RENDER_CHUNK]) for i in range(0, len(rows), RENDER_CHUNK)]
    copy = (
        "copy journeyflow.outbox (contact_id, campaign, step, occurrence, channel, run_date, "
        "message_id, recipient, message) from stdin"
    )
    if len(rows) < PARALLEL_FROM:
        blocks = map(partial(_render_chunk, renderer), chunks)
        for block in blocks:
            warehouse.copy_from(conn, copy, io.StringIO(block))
    else:  # rendering is CPU work in Python: spread it over the cores while COPY runs
        ctx = multiprocessing.get_context("spawn")
        workers = max(2, min(4, os.cpu_count() or 2))
        with ctx.Pool(workers, _init_worker, (renderer.templates_dir, renderer.keys(),
                                             renderer.from_address)) as pool:  # fmt: skip
            for block in pool.imap(_render_in_worker, chunks):
                warehouse.copy_from(conn, copy, io.StringIO(block))
    return new + len(rows)


def _copy_text(value: str) -> str:
    """A value for COPY's text format (our values contain CR, LF, never NUL)."""
    return (
        value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        .replace("\t", "\\t")
    )  # fmt: skip


def _render_chunk(renderer: Any, chunk: tuple[date, datetime, list[tuple]]) -> str:
    """Render a chunk of queued recipients into COPY text lines for the outbox."""
    from journeyflow.render import Recipient

    d, now, rows = chunk
    lines = []
    for campaign, step, occurrence, *contact in rows:
        r = Recipient(*contact)
        msg_id, body = renderer.message(r, campaign, step, occurrence, d, now)
        fields = (r.contact_id, campaign, str(step), str(occurrence), "email", d.isoformat(),
                  msg_id, r.email, body)  # fmt: skip
        lines.append("\t".join(map(_copy_text, fields)))
    return "\n".join(lines) + "\n" if lines else ""


_WORKER_RENDERER: Any = None


def _init_worker(templates_dir: Any, keys: Any, from_address: str) -> None:
    global _WORKER_RENDERER
    from journeyflow.render import Renderer

    _WORKER_RENDERER = Renderer(templates_dir, keys=keys).with_sender(from_address)


def _render_in_worker(chunk: tuple[date, datetime, list[tuple]]) -> str:
    return _render_chunk(_WORKER_RENDERER, chunk)


# ---------------------------------------------------------------------------------------------
# Transports


_ADDRESS = re.compile(r"<?(?:\"[^\"]*\"|[^\s<>@\"(),;:\[\]]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}>?")


def scrub(text: str) -> str:
    """Server replies often quote the address; logs, errors and the outbox keep ids only."""
    return _ADDRESS.sub("<address>", text)


class Refused(Exception):
    """The server refused one message: ``code`` 4xx (try again later) or 5xx (never).

    ``stage`` is ``mail`` (MAIL FROM), ``rcpt`` (RCPT TO) or ``data`` (DATA or the message)."""

    def __init__(self, code: int, detail: str, stage: str) -> None:
        detail = scrub(detail)
        super().__init__(f"{code} {detail}")
        self.code = code
        self.stage = stage
        match = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})\b", detail)
        self.enhanced = match.group(1) if match else None

    @property
    def refuses_us(self) -> bool:
        """About us, not this message: the sender address refused, authentication needed."""
        return self.code in (530, 535) or (self.stage == "mail" and self.code >= 500)

    @property
    def mailbox_gone(self) -> bool:
        """A hard bounce: the recipient's mailbox does not exist or is disabled (5.1.x, 5.2.1,
        5.4.1 as Microsoft says it, or a bare 550/551/553 at RCPT)."""
        if self.stage != "rcpt" or self.code < 500:
            return False
        if self.enhanced is None:
            return self.code in (550, 551, 553)
        return self.enhanced.startswith(("5.1.", "5.2.1", "5.4.1"))


REFUSED_STREAK = 3  # refusals in a row (not hard bounces) that stop a sender connection


class NotHandedOver(Exception):
    """The connection broke before DATA: the message certainly was not accepted."""


class SmtpTransport:
    """SMTP through the ``journeyflow_smtp`` connection, read the way the smtp provider reads it.

    ``extra``: ``disable_ssl`` (default false: implicit TLS), ``disable_tls`` (default false:
    STARTTLS), ``from_email``, ``timeout``.
    """

    def __init__(self, conn: Any, timeout: float) -> None:
        extra = conn.extra_dejson or {}
        self.host = conn.host or "localhost"
        self.use_ssl = not _flag(extra.get("disable_ssl", False))
        self.port = conn.port or (465 if self.use_ssl else 25)
        self.starttls = not _flag(extra.get("disable_tls", False))
        self.login, self.password = conn.login, conn.password
        self.timeout = float(extra.get("timeout", timeout))
        self.smtp: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"SMTP {self.host}:{self.port} (connection {SMTP_CONN_ID})"

    def open(self) -> None:
        ctx = ssl.create_default_context()
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ctx
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls(context=ctx)
        smtp.ehlo_or_helo_if_needed()
        if self.login:
            smtp.login(self.login, self.password or "")
        self.smtp = smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def prepare(self, sender: str, recipient: str) -> None:
        """MAIL FROM and RCPT TO: refusals here are per recipient and certain."""
        assert self.smtp is not None
        try:
            code, resp = self.smtp.mail(sender)
            if code != 250:
                self._rset()
                raise Refused(code, _text(resp), "mail")
            code, resp = self.smtp.rcpt(recipient)
            if code not in (250, 251):
                self._rset()
                raise Refused(code, _text(resp), "rcpt")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.smtp = None
            raise NotHandedOver(str(exc)) from exc

    def data(self, message: bytes) -> None:
        """DATA: after this returns, the server has accepted the message.

        A refusal (of the DATA command, or of the message after it) is certain: the server said
        no. Only a broken connection leaves the outcome open."""
        assert self.smtp is not None
        try:
            code, resp = self.smtp.data(message)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPResponseException as exc:
            self._rset()
            raise Refused(exc.smtp_code, _text(exc.smtp_error), "data") from exc
        if code != 250:
            self._rset()
            raise Refused(code, _text(resp), "data")

    def _rset(self) -> None:
        """Reset the SMTP transaction after a refusal; a broken connection is reopened later."""
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.smtp = None


class FileTransport:
    """No ``journeyflow_smtp``: every message becomes ``$JOURNEYFLOW_HOME/outbox/<D>/<c>/*.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"folder {self.folder}"

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def prepare(self, sender: str, recipient: str) -> None:
        pass

    def target(self, row: dict[str, Any]) -> Path:
        return (
            self.folder
            / str(row["run_date"])
            / row["campaign"]
            / f"{row['outbox_id']:09d}_{row['step']}_{row['occurrence']}.eml"
        )

    def write(self, row: dict[str, Any], message: bytes) -> None:
        path = self.target(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(message)
        tmp.replace(path)


def _text(resp: bytes | str) -> str:
    return resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def sender_address() -> str:
    """The From address: the connection's ``from_email``, else ``campaigns.sender.from``."""
    conn = get_connection(SMTP_CONN_ID)
    if conn is not None and (conn.extra_dejson or {}).get("from_email"):
        value = str(conn.extra_dejson["from_email"])
        if "@" not in parseaddr(value)[1]:
            raise SenderError(
                f"connection {SMTP_CONN_ID}: extra from_email {value!r} is not an address such "
                "as 'Shop <news@shop.example>' (quote a name that has a comma)"
            )
        return value
    return settings.load_config().campaigns.sender.from_address


def transport() -> SmtpTransport | FileTransport:
    conn = get_connection(SMTP_CONN_ID)
    if conn is None:
        return FileTransport(settings.home() / "outbox")
    return SmtpTransport(conn, settings.load_config().campaigns.sender.timeout_seconds)


# ---------------------------------------------------------------------------------------------
# The sender


@dataclass
class SendResult:
    campaign: str
    sent: int = 0
    bounced: int = 0
    deferred: int = 0
    failed: int = 0
    in_doubt: int = 0
    released: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    refused_streak: int = field(default=0, repr=False)  # 5xx refusals in a row, not bounces

    def as_dict(self) -> dict[str, Any]:
        skip = ("errors", "refused_streak")
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {
            "errors": self.errors[:20]
        }


class _Db:
    """The sender's own autocommit connection: every statement commits on its own.

    A message's "sent" mark is written together with the next statement, in the same round
    trip (usually the next message's "sending" mark): one database round trip per message.
    """

    def __init__(self) -> None:
        self.raw = warehouse.engine().raw_connection()
        self.raw.driver_connection.autocommit = True
        self.cur = self.raw.driver_connection.cursor()
        self.pending_sent: int | None = None

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.pending_sent is not None:
            sent, self.pending_sent = self.pending_sent, None
            if sql == _SENDING:  # one implicit transaction: both marks or neither
                self.cur.execute(_SENT_THEN_SENDING, (sent, *params))
                return []
            self.cur.execute(_SENT, (sent,))
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    def mark_sent(self, outbox_id: int) -> None:
        self.pending_sent = outbox_id

    def flush(self) -> None:
        if self.pending_sent is not None:
            sent, self.pending_sent = self.pending_sent, None
            self.cur.execute(_SENT, (sent,))

    def close(self) -> None:
        try:
            self.flush()
            self.run("select pg_advisory_unlock_all(); reset lock_timeout")
            self.raw.driver_connection.autocommit = False  # back to the pool as it came
        finally:
            self.raw.close()


def _lock_key(campaign: str) -> str:
    return f"journeyflow.sender:{campaign}"


_SUPPRESSED = (
    "select 1 from journeyflow.suppressions s where s.contact_id = outbox.contact_id "
    "and s.channel = 'email' and (s.address = '' or s.address = lower(outbox.recipient))"
)


def recover(db: _Db, campaign: str) -> tuple[int, int]:
    """After taking the campaign's lock: undo what a dead sender left, and cancel what was
    queued before its contact unsubscribed or bounced. Returns (released, in_doubt)."""
    cancelled = db.run(
        "update journeyflow.outbox set status = 'cancelled', "
        "last_error = 'suppressed after it was queued (unsubscribed or bounced)' "
        "where campaign = %s and channel = 'email' and status = 'queued' "
        f"and exists ({_SUPPRESSED}) returning outbox_id",
        (campaign,),
    )
    if cancelled:
        log.info("%s: %d queued message(s) cancelled: suppressed since", campaign, len(cancelled))
    released = db.run(
        "update journeyflow.outbox set status = 'queued', claimed_at = null "
        "where campaign = %s and channel = 'email' and status = 'claimed' returning outbox_id",
        (campaign,),
    )
    doubtful = db.run(
        "update journeyflow.outbox set status = 'in_doubt', last_error = "
        "'the sender stopped after handing this message to SMTP; it may have been delivered' "
        "where campaign = %s and channel = 'email' and status = 'sending' returning outbox_id",
        (campaign,),
    )
    if doubtful:
        log.warning(
            "%s: %d message(s) in doubt (outbox ids %s): the previous sender died after handing "
            "them to SMTP; check the mail server log for their Message-ID, then "
            "`journeyflow outbox --date D --id N --resolve sent|resend`",
            campaign, len(doubtful), [r[0] for r in doubtful],
        )  # fmt: skip
    return len(released), len(doubtful)


def send(campaign: str, d: date) -> SendResult:
    """Send the queued emails of one campaign (run dates up to D). Safe to run again any time.

    ``sender.connections`` workers claim batches side by side (``for update skip locked``), each
    with its own SMTP connection; the campaign lock is held for all of them.
    """
    cfg = settings.load_config().campaigns.sender
    result = SendResult(campaign)
    started = time.perf_counter()
    db = _Db()
    try:
        db.run("set lock_timeout = '10min'")
        db.run("select pg_advisory_lock(hashtext(%s))", (_lock_key(campaign),))
        result.released, result.in_doubt = recover(db, campaign)
        workers = cfg.connections
        pacer = _Pacer(cfg.rate_per_second)
        stop = threading.Event()
        results = [SendResult(campaign) for _ in range(workers)]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                _worker(campaign, d, cfg, transport(), pacer, stop, results[i])
            except BaseException as exc:  # first failure stops the others; raised below
                errors.append(exc)
                stop.set()

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            for key in ("sent", "bounced", "deferred", "failed", "in_doubt"):
                setattr(result, key, getattr(result, key) + getattr(r, key))
            result.errors += r.errors
        if errors:
            raise errors[0]
    finally:
        result.seconds = time.perf_counter() - started
        db.close()
    with warehouse.transaction() as conn:
        step = StepResult(f"send.{campaign}", result.sent, result.sent, 0, result.seconds,
                          result.as_dict())  # fmt: skip
        record_step(conn, d, step)
    log.info(
        "%s: sent %d, bounced %d, deferred %d, failed %d, in doubt %d",
        campaign, result.sent, result.bounced, result.deferred, result.failed, result.in_doubt,
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
    d: date,
    cfg: settings.SenderConfig,
    tr: Any,
    pacer: _Pacer,
    stop: threading.Event,
    result: SendResult,
) -> None:
    """Claim batches and deliver them until the campaign's queue is empty (or stop is set)."""
    sender = sender_address()
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{time.time_ns()}"
    db = _Db()
    batch: list[tuple] = []
    try:
        _open(tr, cfg)
        while not stop.is_set():
            batch = db.run(
                "update journeyflow.outbox set status = 'claimed', claimed_at = now(), "
                "claimed_by = %s where outbox_id in (select outbox_id from journeyflow.outbox "
                "  where campaign = %s and channel = 'email' and status = 'queued' "
                "  and run_date <= %s and (next_attempt_at is null or next_attempt_at <= now()) "
                f"  and not exists ({_SUPPRESSED}) "
                "  order by outbox_id limit %s for update skip locked) "
                "returning outbox_id, recipient, message, attempts, run_date, step, occurrence",
                (worker_id, campaign, d, cfg.batch_size),
            )
            if not batch:
                break
            batch.sort()
            for oid, rcpt, message, attempts, run_date, step, occ in batch:
                if stop.is_set():
                    break
                if pacer.pace:
                    db.flush()  # do not keep a sent mark waiting while we pause
                    pacer.wait()
                row = {"outbox_id": oid, "run_date": run_date, "campaign": campaign,
                       "step": step, "occurrence": occ}  # fmt: skip
                _deliver(db, tr, cfg, sender, row, rcpt, message, attempts, result, worker_id)
            else:
                batch = []
    finally:
        try:
            if batch:  # stopped early: what this worker claimed but did not try goes back
                db.run(
                    "update journeyflow.outbox set status = 'queued', claimed_at = null "
                    "where outbox_id = any(%s) and status = 'claimed'",
                    ([b[0] for b in batch],),
                )
        finally:
            tr.close()
            db.close()


def _open(tr: Any, cfg: settings.SenderConfig) -> None:
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


def _backoff(cfg: settings.SenderConfig, attempt: int) -> float:
    return cfg.backoff_seconds * (2**attempt) * (0.5 + random.random() / 2)


def _deliver(
    db: _Db,
    tr: Any,
    cfg: settings.SenderConfig,
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
                if not _mark_sending(db, oid, worker_id, result):
                    return
                tr.write(row, body)
            else:
                if tr.smtp is None:
                    _open(tr, cfg)
                tr.prepare(sender, rcpt)
                if not _mark_sending(db, oid, worker_id, result):
                    tr._rset()
                    return
                tr.data(body)
            db.mark_sent(oid)
            result.sent += 1
            result.refused_streak = 0
            return
        except Refused as exc:
            last = str(exc)
            if exc.code >= 500 and exc.refuses_us:
                db.run(_BACK_TO_CLAIMED, (oid,))
                raise SenderError(
                    f"{tr.describe()} refuses to send for us ({exc}); check the connection's "
                    "login and from_email. Nothing was suppressed; the messages stay queued"
                ) from exc
            if exc.mailbox_gone:
                _bounce(db, oid, exc, result)
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
            db.run(_BACK_TO_CLAIMED, (oid,))
        except NotHandedOver as exc:
            last = f"connection lost before DATA: {exc}"
            db.run(_BACK_TO_CLAIMED, (oid,))
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            # The connection broke during DATA: the server may or may not have the message.
            tr.smtp = None
            db.run(
                "update journeyflow.outbox set status = 'in_doubt', last_error = %s "
                "where outbox_id = %s",
                (f"connection lost during DATA: {exc}"[:500], oid),
            )
            result.in_doubt += 1
            result.errors.append(f"outbox {oid}: in doubt ({exc})")
            return
    # Still refused (4xx, a policy) or unreachable after the retries of this run.
    _defer(db, cfg, oid, attempts + 1, last, result)
    if isinstance(tr, SmtpTransport) and tr.smtp is None:
        _open(tr, cfg)  # raises SenderError when the server is gone for good


def _defer(
    db: _Db, cfg: settings.SenderConfig, oid: int, total: int, last: str, result: SendResult
) -> None:
    """Back to the queue for a later run, or failed once ``max_attempts`` are used up."""
    if total >= cfg.max_attempts:
        db.run(
            "update journeyflow.outbox set status = 'failed', attempts = %s, last_error = %s "
            "where outbox_id = %s",
            (total, f"gave up after {total} attempts: {last}"[:500], oid),
        )
        result.failed += 1
    else:
        db.run(
            "update journeyflow.outbox set status = 'queued', attempts = %s, last_error = %s, "
            "claimed_at = null, next_attempt_at = now() + make_interval(mins => %s) "
            "where outbox_id = %s",
            (total, last[:500], cfg.defer_minutes, oid),
        )
        result.deferred += 1
    result.errors.append(f"outbox {oid}: {last}")


def _mark_sending(db: _Db, oid: int, worker_id: str, result: SendResult) -> bool:
    """Commit "sending" before DATA; False when the claim is no longer this worker's."""
    db.run(_SENDING, (oid, worker_id))
    if db.cur.rowcount == 1:
        return True
    log.warning("outbox %s: claim lost to another sender; not sending it here", oid)
    result.errors.append(f"outbox {oid}: claim lost to another sender")
    return False


def _bounce(db: _Db, oid: int, exc: Refused, result: SendResult) -> None:
    """A hard bounce: the message is bounced and the address suppressed."""
    db.run(
        "update journeyflow.outbox set status = 'bounced', last_error = %s "
        "where outbox_id = %s; "
        "insert into journeyflow.suppressions (contact_id, channel, address, reason, "
        "campaign, detail) select contact_id, 'email', lower(recipient), 'hard_bounce', "
        "campaign, %s from journeyflow.outbox where outbox_id = %s on conflict do nothing",
        (f"hard bounce: {exc}"[:500], oid, str(exc)[:500], oid),
    )
    result.bounced += 1
    result.errors.append(f"outbox {oid}: {exc}")


_SENDING = (
    "update journeyflow.outbox set status = 'sending', attempts = attempts + 1 "
    "where outbox_id = %s and status = 'claimed' and claimed_by = %s"
)
_SENT = (
    "update journeyflow.outbox set status = 'sent', sent_at = now(), last_error = null "
    "where outbox_id = %s"
)
_SENT_THEN_SENDING = _SENT + "; " + _SENDING
_BACK_TO_CLAIMED = (
    "update journeyflow.outbox set status = 'claimed' where outbox_id = %s and status = 'sending'"
)


def resolve(
    d: date, outcome: str, campaign: str | None = None, ids: list[int] | None = None
) -> int:
    """Settle in-doubt messages of D after checking the mail server: ``sent`` or ``resend``.

    ``ids`` limits it to these outbox ids (``journeyflow outbox`` lists them)."""
    if outcome not in ("sent", "resend"):
        raise ValueError("outcome is 'sent' (the server has it) or 'resend' (it does not)")
    with warehouse.transaction() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text(
                    "select outbox_id from journeyflow.outbox where status = 'in_doubt' "
                    "and run_date = :d and (cast(:c as text) is null or campaign = :c) "
                    "and (cast(:ids as bigint[]) is null or outbox_id = any(:ids))"
                ),
                {"d": d, "c": campaign, "ids": ids},
            )
        ]
        if outcome == "sent":
            conn.execute(
                text(
                    "update journeyflow.outbox set status = 'sent', sent_at = coalesce(sent_at, "
                    "now()) where outbox_id = any(:ids)"
                ),
                {"ids": ids},
            )
        else:
            conn.execute(
                text(
                    "update journeyflow.outbox set status = 'queued', claimed_at = null "
                    "where outbox_id = any(:ids)"
                ),
                {"ids": ids},
            )
    return len(ids)


def status_counts(d: date | None = None) -> list[tuple[str, str, str, int]]:
    """(campaign, channel, status, count) for D, or for everything."""
    with warehouse.transaction() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "select campaign, channel, status, count(*) from journeyflow.outbox "
                    "where cast(:d as date) is null or run_date = :d "
                    "group by 1, 2, 3 order by 1, 2, 3"
                ),
                {"d": d},
            )
        ]


def iter_in_doubt() -> Iterator[tuple]:
    with warehouse.transaction() as conn:
        yield from conn.exec_driver_sql(
            "select outbox_id, run_date, campaign, step, contact_id, message_id "
            "from journeyflow.outbox where status = 'in_doubt' order by outbox_id"
        ).all()
