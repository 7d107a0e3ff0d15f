"""A real SMTP server on localhost (aiosmtpd) that records or refuses what it is sent."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage


class Sink:
    """Accepts every message, unless told to answer an address with given codes first."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, list[int | str]] = {}  # at RCPT: a code or a whole reply
        self.refuse_data: dict[str, list[str]] = {}  # after DATA: whole replies
        self.refuse_mail: list[str] = []  # at MAIL FROM: whole replies, one per message

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.refuse_mail:
            return self.refuse_mail.pop(0)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        codes = self.refuse.get(address)
        if codes:
            code = codes.pop(0)
            if isinstance(code, str):
                return code
            return f"{code} {'try again later' if code < 500 else 'no such mailbox'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        replies = self.refuse_data.get(envelope.rcpt_tos[0])
        if replies:
            return replies.pop(0)
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def by_campaign(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for m in self.messages:
            out.setdefault(str(m["X-Campaign"]), set()).add(str(m["X-Envelope-To"]))
        return out

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


def smtp_connection(port: int) -> str:
    return json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "news@shop.example"},
    })  # fmt: skip
