"""Internal email (alerts, the morning summary): one message per recipient through
``journeyflow_smtp``; in local mode without it, an ``.eml`` file under
``$JOURNEYFLOW_HOME/outbox/notifications/<D>/``."""

from __future__ import annotations

import logging
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from journeyflow.config import home, load_config
from journeyflow.connections import require
from journeyflow.email.transport import (
    SMTP_CONN_ID,
    Refused,
    SenderError,
    SmtpTransport,
    sender_address,
)

log = logging.getLogger(__name__)


def message(kind: str, to: tuple[str, ...], subject: str, text: str, html: str | None) -> bytes:
    """An internal email: text (and HTML) in UTF-8, marked as sent automatically."""
    cfg = load_config()
    msg = EmailMessage()
    msg["From"] = sender_address()
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(cfg.tz))
    msg["Message-ID"] = make_msgid(kind, domain=cfg.campaigns.message_id_domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg["X-Journeyflow"] = kind
    msg.set_content(text, cte="quoted-printable")  # lines stay short for SMTP (RFC 5321)
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg.as_bytes(policy=policy.SMTP.clone(max_line_length=200))  # no folded subject


def deliver(kind: str, run_date: date, to: tuple[str, ...], subject: str, text: str,
            html: str | None = None) -> str:  # fmt: skip
    """Send the email to every address of ``to``; returns where it went (for the log)."""
    body = message(kind, to, subject, text, html)
    conn = require(SMTP_CONN_ID)
    if conn is None:  # local mode: a file beside the campaign emails
        folder = home() / "outbox" / "notifications" / run_date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        path = _free(folder / f"{kind}.eml")
        path.write_bytes(body)
        return str(path)
    smtp = SmtpTransport(conn, load_config().campaigns.sender.timeout_seconds)
    sender = sender_address()
    refused = []
    smtp.open()
    try:
        for i, rcpt in enumerate(to):
            try:
                smtp.prepare(sender, rcpt)
                smtp.data(body)
            except Refused as exc:  # one refused address does not keep it from the others
                refused.append(f"recipient {i + 1}: {exc}")
                if smtp.smtp is None:
                    smtp.open()
    finally:
        smtp.close()
    if len(refused) == len(to):
        raise SenderError(f"{kind} email refused for every recipient: {'; '.join(refused)}")
    if refused:
        log.error("%s email refused for %d of %d recipients: %s", kind, len(refused), len(to),
                  "; ".join(refused))  # fmt: skip
    return f"{smtp.describe()}, {len(to) - len(refused)} recipient(s)"


def _free(path: Path) -> Path:
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(f"{path.stem.split('~')[0]}~{n}{path.suffix}")
    return path
