"""The MIME message of a campaign email: multipart text and HTML, quoted-printable, CRLF.

Headers: a stable Message-ID, ``X-Campaign``, ``X-Campaign-Step``, ``X-Campaign-Variant`` and
the RFC 8058 unsubscribe headers. The message is ASCII, ready for SMTP DATA and for COPY into the
outbox.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(value: str | None) -> str | None:
    """One line of text: control characters (CR, LF, ...) become spaces, ends trimmed."""
    if value is None:
        return None
    value = _CONTROL.sub(" ", value).strip()
    return value or None


def _qp(body: str) -> str:
    """Quoted-printable with CRLF line ends (ASCII out, so the message is plain text)."""
    data = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).decode("ascii")


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")


def message_id(contact_id: str, campaign: str, step: int, occurrence: int, domain: str) -> str:
    """Stable per (contact, campaign, step, occurrence); the contact id only as a hash."""
    digest = hashlib.sha256(contact_id.encode("utf-8")).hexdigest()[:24]
    return f"<{campaign}.{step}.{occurrence}.{digest}@{domain}>"


def build_message(
    *,
    sender: str,
    recipient: str,
    recipient_name: str | None,
    subject: str,
    text: str,
    html: str,
    msg_id: str,
    campaign: str,
    step: int,
    unsubscribe_url: str,
    lang: str,
    when: datetime,
    variant: str = "main",
) -> str:
    """An RFC 5322 message (multipart/alternative, quoted-printable, CRLF), as ASCII text."""
    boundary = "=_jf_" + hashlib.sha1(msg_id.encode()).hexdigest()[:24]
    to = formataddr((clean(recipient_name) or "", recipient), charset="utf-8")
    sender_name, sender_address = parseaddr(sender)
    headers = [
        f"From: {formataddr((sender_name, sender_address), charset='utf-8')}",
        f"To: {to}",
        f"Subject: {_header(clean(subject) or '')}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {msg_id}",
        "MIME-Version: 1.0",
        f"Content-Language: {lang}",
        f"List-Unsubscribe: <{unsubscribe_url}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f"X-Campaign: {campaign}",
        f"X-Campaign-Step: {step}",
        f"X-Campaign-Variant: {variant}",
        "Precedence: bulk",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    part = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
    return (
        "\r\n".join(headers)
        + f"\r\n\r\n--{boundary}\r\n{part.format('plain')}\r\n\r\n{_qp(text)}"
        + f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n{_qp(html)}"
        + f"\r\n--{boundary}--\r\n"
    )
