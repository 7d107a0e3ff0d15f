"""Transports: SMTP through ``journeyflow_smtp``, or ``.eml`` files in local mode.

A transport does MAIL FROM/RCPT TO (``prepare``), then DATA (``data``) as separate calls, so
that the sender can commit "sending" in between. Refusals come back as ``Refused`` with the
stage and the code; server replies lose their addresses (``scrub``).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from journeyflow.config import home, load_config
from journeyflow.connections import get_connection, require

SMTP_CONN_ID = "journeyflow_smtp"


class SenderError(RuntimeError):
    """Sending cannot go on (SMTP unreachable, ...); the queued messages stay queued."""


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
                self.rset()
                raise Refused(code, _text(resp), "mail")
            code, resp = self.smtp.rcpt(recipient)
            if code not in (250, 251):
                self.rset()
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
            self.rset()
            raise Refused(exc.smtp_code, _text(exc.smtp_error), "data") from exc
        if code != 250:
            self.rset()
            raise Refused(code, _text(resp), "data")

    def rset(self) -> None:
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

    def rset(self) -> None:
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
    return load_config().campaigns.sender.from_address


def transport() -> SmtpTransport | FileTransport:
    """SMTP through ``journeyflow_smtp``; in local mode without it, ``.eml`` files."""
    conn = require(SMTP_CONN_ID)
    if conn is None:
        return FileTransport(home() / "outbox")
    return SmtpTransport(conn, load_config().campaigns.sender.timeout_seconds)
