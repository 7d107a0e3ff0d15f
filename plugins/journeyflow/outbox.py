"""The outbox: queued messages are sent exactly once, or reported when that cannot be known.

``enqueue`` runs inside the decision transaction: every queued decision becomes one outbox row
with its rendered message, keyed by (contact, campaign, step, occurrence), so a rerun of D finds
its rows instead of adding new ones. ``send`` is the sender: it takes a per-campaign lock (a
PostgreSQL advisory lock, released by the server when a sender process dies), returns rows a dead
sender had claimed but not yet handed to SMTP, marks rows it had handed over as ``in_doubt``, then
claims batches. Each message is marked ``sending`` in a committed statement *before* SMTP DATA
and ``sent`` right after the server's 250; the only window left is between those two, and a crash
there leaves one ``in_doubt`` row per sender that is reported, never resent on its own.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import settings, warehouse
from journeyflow.connections import get_connection
from journeyflow.pipeline import StepResult, record_step

log = logging.getLogger(__name__)

SMTP_CONN_ID = "journeyflow_smtp"
RENDER_CHUNK = 2000

RECIPIENTS_SQL = """
select d.contact_id, d.campaign, d.step, d.occurrence, c.email, c.language, c.salutation,
       c.title, c.first_name, c.last_name, c.city, f.order_count, f.first_product,
       f.last_product, f.first_order_at, f.last_order_at
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


def _csv_chunk(rows: list[tuple]) -> io.StringIO:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    buf.seek(0)
    return buf


def enqueue(conn: Connection, d: date, renderer: Any | None = None) -> int:
    """Outbox rows for the queued decisions in ``decided`` (same transaction). Returns new rows."""
    from journeyflow.render import Recipient, Renderer

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
    conn.exec_driver_sql(
        "create temp table rendered (contact_id text, campaign text, step integer, "
        "occurrence integer, message_id text, recipient text, message text) on commit drop"
    )
    renderer = renderer or Renderer().with_sender(sender_address())
    raw = conn.connection.dbapi_connection
    now = datetime.now(settings.load_config().tz)
    with raw.cursor(name="queued_recipients") as cur:
        cur.itersize = RENDER_CHUNK
        cur.execute(RECIPIENTS_SQL)
        while rows := cur.fetchmany(RENDER_CHUNK):
            out = []
            for row in rows:
                r = Recipient(
                    contact_id=row[0], email=row[4], language=row[5], salutation=row[6],
                    title=row[7], first_name=row[8], last_name=row[9], city=row[10],
                    order_count=row[11] or 0, first_product=row[12], last_product=row[13],
                    first_order_at=row[14], last_order_at=row[15],
                )  # fmt: skip
                msg_id, body = renderer.message(r, row[1], row[2], row[3], d, now)
                out.append((row[0], row[1], row[2], row[3], msg_id, row[4], body))
            warehouse.copy_from(conn, "copy rendered from stdin with (format csv)", _csv_chunk(out))
    new += conn.exec_driver_sql(
        "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, channel, "
        "run_date, message_id, recipient, message) "
        f"select contact_id, campaign, step, occurrence, 'email', '{d.isoformat()}', "
        "message_id, recipient, message from rendered on conflict do nothing"
    ).rowcount
    return new


# ---------------------------------------------------------------------------------------------
# Transports


class Refused(Exception):
    """The server refused one message: ``code`` 4xx (try again later) or 5xx (never)."""

    def __init__(self, code: int, detail: str, recipient_level: bool) -> None:
        super().__init__(f"{code} {detail}")
        self.code = code
        self.recipient_level = recipient_level


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
                self.smtp.rset()
                raise Refused(code, resp.decode(errors="replace"), recipient_level=False)
            code, resp = self.smtp.rcpt(recipient)
            if code not in (250, 251):
                self.smtp.rset()
                raise Refused(code, resp.decode(errors="replace"), recipient_level=True)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.smtp = None
            raise NotHandedOver(str(exc)) from exc

    def data(self, message: bytes) -> None:
        """DATA: after this returns, the server has accepted the message."""
        assert self.smtp is not None
        code, resp = self.smtp.data(message)
        if code != 250:
            self.smtp.rset()
            raise Refused(code, resp.decode(errors="replace"), recipient_level=False)


class FileTransport:
    """No ``journeyflow_smtp``: every message becomes ``$JOURNEYFLOW_HOME/outbox/<D>/<c>/*.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = ""

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


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def sender_address() -> str:
    conn = get_connection(SMTP_CONN_ID)
    if conn is not None and (conn.extra_dejson or {}).get("from_email"):
        return str(conn.extra_dejson["from_email"])
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

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"} | {
            "errors": self.errors[:20]
        }


class _Db:
    """The sender's own autocommit connection: every statement commits on its own."""

    def __init__(self) -> None:
        self.raw = warehouse.engine().raw_connection()
        self.raw.driver_connection.autocommit = True
        self.cur = self.raw.driver_connection.cursor()

    def run(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    def close(self) -> None:
        self.run("select pg_advisory_unlock_all()")
        self.raw.driver_connection.autocommit = False  # back to the pool as it came
        self.raw.close()


def _lock_key(campaign: str) -> str:
    return f"journeyflow.sender:{campaign}"


def recover(db: _Db, campaign: str) -> tuple[int, int]:
    """After taking the campaign's lock: undo what a dead sender left. (released, in_doubt)."""
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
            "`journeyflow outbox resolve`",
            campaign, len(doubtful), [r[0] for r in doubtful],
        )  # fmt: skip
    return len(released), len(doubtful)


def send(campaign: str, d: date, *, transport_: Any = None, limit: int | None = None) -> SendResult:
    """Send the queued emails of one campaign (run dates up to D). Safe to run again any time."""
    cfg = settings.load_config().campaigns.sender
    result = SendResult(campaign)
    started = time.perf_counter()
    tr = transport_ or transport()
    sender = sender_address()
    db = _Db()
    try:
        db.run("set lock_timeout = '10min'")
        db.run("select pg_advisory_lock(hashtext(%s))", (_lock_key(campaign),))
        result.released, result.in_doubt = recover(db, campaign)
        _open(tr, cfg)
        pace = 1.0 / cfg.rate_per_second if cfg.rate_per_second > 0 else 0.0
        next_at = time.monotonic()
        while limit is None or result.sent < limit:
            batch = db.run(
                "update journeyflow.outbox set status = 'claimed', claimed_at = now() "
                "where outbox_id in (select outbox_id from journeyflow.outbox "
                "  where campaign = %s and channel = 'email' and status = 'queued' "
                "  and run_date <= %s and (next_attempt_at is null or next_attempt_at <= now()) "
                "  order by outbox_id limit %s for update skip locked) "
                "returning outbox_id, recipient, message, attempts, run_date, step, occurrence",
                (campaign, d, cfg.batch_size),
            )
            if not batch:
                break
            batch.sort()
            for i, (oid, rcpt, message, attempts, run_date, step, occ) in enumerate(batch):
                if pace:
                    next_at = max(next_at + pace, time.monotonic())
                    time.sleep(max(0.0, next_at - time.monotonic()))
                row = {"outbox_id": oid, "run_date": run_date, "campaign": campaign,
                       "step": step, "occurrence": occ}  # fmt: skip
                try:
                    _deliver(db, tr, cfg, sender, row, rcpt, message, attempts, result)
                except SenderError:
                    rest = [b[0] for b in batch[i:]]
                    db.run(
                        "update journeyflow.outbox set status = 'queued', claimed_at = null "
                        "where outbox_id = any(%s) and status = 'claimed'",
                        (rest,),
                    )
                    raise
    finally:
        result.seconds = time.perf_counter() - started
        tr.close()
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
                db.run(_SENDING, (oid,))
                tr.write(row, body)
            else:
                if tr.smtp is None:
                    _open(tr, cfg)
                tr.prepare(sender, rcpt)
                db.run(_SENDING, (oid,))
                tr.data(body)
            db.run(_SENT, (oid, oid))
            result.sent += 1
            return
        except Refused as exc:
            last = str(exc)
            if 500 <= exc.code < 600:
                _bounce(db, oid, exc, result)
                return
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
    # Still refused (4xx) or unreachable after the retries of this run.
    total = attempts + 1
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
    if isinstance(tr, SmtpTransport) and tr.smtp is None:
        _open(tr, cfg)  # raises SenderError when the server is gone for good


def _bounce(db: _Db, oid: int, exc: Refused, result: SendResult) -> None:
    """5xx: a refused recipient is a hard bounce (suppressed); a refused message has failed."""
    if exc.recipient_level:
        db.run(
            "update journeyflow.outbox set status = 'bounced', last_error = %s "
            "where outbox_id = %s; "
            "insert into journeyflow.suppressions (contact_id, channel, address, reason, "
            "campaign, detail) select contact_id, 'email', lower(recipient), 'hard_bounce', "
            "campaign, %s from journeyflow.outbox where outbox_id = %s on conflict do nothing",
            (f"hard bounce: {exc}"[:500], oid, str(exc)[:500], oid),
        )
        result.bounced += 1
    else:
        db.run(
            "update journeyflow.outbox set status = 'failed', last_error = %s where outbox_id = %s",
            (f"refused by the server: {exc}"[:500], oid),
        )
        result.failed += 1
    result.errors.append(f"outbox {oid}: {exc}")


_SENDING = (
    "update journeyflow.outbox set status = 'sending', attempts = attempts + 1 "
    "where outbox_id = %s and status = 'claimed'"
)
_SENT = (
    "update journeyflow.outbox set status = 'sent', sent_at = now(), last_error = null "
    "where outbox_id = %s; "
    "insert into journeyflow.send_log "
    "select contact_id, campaign, step, channel, occurrence, run_date, sent_at "
    "from journeyflow.outbox where outbox_id = %s on conflict do nothing"
)
_BACK_TO_CLAIMED = (
    "update journeyflow.outbox set status = 'claimed' where outbox_id = %s and status = 'sending'"
)


def resolve(d: date, outcome: str, campaign: str | None = None) -> int:
    """Settle in-doubt messages of D after checking the mail server: ``sent`` or ``resend``."""
    if outcome not in ("sent", "resend"):
        raise ValueError("outcome is 'sent' (the server has it) or 'resend' (it does not)")
    with warehouse.transaction() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text(
                    "select outbox_id from journeyflow.outbox where status = 'in_doubt' "
                    "and run_date = :d and (cast(:c as text) is null or campaign = :c)"
                ),
                {"d": d, "c": campaign},
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
            conn.execute(
                text(
                    "insert into journeyflow.send_log select contact_id, campaign, step, "
                    "channel, occurrence, run_date, sent_at from journeyflow.outbox "
                    "where outbox_id = any(:ids) on conflict do nothing"
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
