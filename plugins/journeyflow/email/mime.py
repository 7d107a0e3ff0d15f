"""The MIME message of a campaign email: multipart text and HTML, quoted-printable, CRLF.

Headers: a stable Message-ID, ``X-Campaign``, ``X-Campaign-Step``, ``X-Campaign-Variant`` and
the RFC 8058 unsubscribe headers. The message is ASCII, ready for SMTP DATA and for COPY into the
outbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # and Unicode's line breaks


def clean(value: str | None) -> str | None:
    """One line of text: control characters (CR, LF, ...) become spaces, ends trimmed."""
    if value is None:
        return None
    value = _CONTROL.sub(" ", value).strip()
    return value or None


def _qp(body: str) -> str:
    """Quoted-printable with CRLF line ends (ASCII out, so the message is plain text).

    Line by line, each line encoded once until ``forget_lines``: most lines of a step's messages
    are the template's own, the same for every recipient. The encoder starts afresh at every line
    end, so this is byte for byte what encoding the whole body gives; a body that does not end
    with a line end is encoded whole."""
    text = body.replace("\r\n", "\n") if "\r" in body else body
    *lines, last = text.split("\n")
    if last:
        return _b2a_qp(text.replace("\n", "\r\n"))
    return "".join(map(_qp_line, lines))


@lru_cache(maxsize=8192)
def _qp_line(line: str) -> str:
    """One line and its CRLF, quoted-printable."""
    return _b2a_qp(f"{line}\r\n")


def _b2a_qp(text: str) -> str:
    data = text.encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).decode("ascii")


def forget_lines() -> None:
    """Empty the kept lines (among them recipients' names and links), e.g. after each chunk."""
    _qp_line.cache_clear()


_WORD_BYTES = 42  # "Subject: =?utf-8?b?<56 base64>?=" stays within 78 characters
_NAME_BYTES = 300  # a display name longer than this is cut: the line stays far below 998


def encode_words(value: str, fold: bool = True) -> str:
    """RFC 2047 for a header value (cleaned by the caller, see ``clean``): ASCII as it is,
    anything else as base64 encoded words, folded without splitting a character (``fold=False``:
    one word, as ``formataddr`` writes a display name, since parsers of address headers put a
    space between adjacent words). Replaces ``email.header``, which weighs every encoding per
    character and was most of a message's cost."""
    if value.isascii():
        return value
    data = value.encode("utf-8")
    if not fold or len(data) <= _WORD_BYTES:
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    words, chunk, size = [], [], 0
    for char in value:
        n = len(char.encode("utf-8"))
        if size + n > _WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return "\r\n ".join(
        f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words
    )


def mailbox(name: str | None, address: str) -> str:
    """``Name <address>`` (decoding as ``formataddr`` writes it): an ASCII name quoted where
    needed, any other as one encoded word; a name over 300 bytes is cut at a character. The
    caller cleans the name (``clean``); an address must be ASCII."""
    if name and len(name.encode("utf-8")) > _NAME_BYTES:
        name = name.encode("utf-8")[:_NAME_BYTES].decode("utf-8", "ignore").rstrip()
    if not name or name.isascii():
        return formataddr((name or "", address))
    address.encode("ascii")  # as formataddr: an address is ASCII
    return f"{encode_words(name, fold=False)} <{address}>"


@lru_cache(maxsize=16)
def _sender(sender: str) -> str:
    return mailbox(*parseaddr(sender))


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
    headers = [
        f"From: {_sender(sender)}",
        f"To: {mailbox(clean(recipient_name), recipient)}",
        f"Subject: {encode_words(clean(subject) or '')}",
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
