"""Signed unsubscribe tokens and links.

Token: ``KID.PAYLOAD.MAC``, all base64url without padding (URL-safe as is). PAYLOAD is the JSON
list ``[channel, campaign, contact_id]``; MAC is HMAC-SHA256 over ``jf-unsub-v1.KID.PAYLOAD``,
truncated to 128 bits. Tokens are signed, not encrypted (they carry ids, never addresses), and do
not expire: a link must keep working. A token verifies while its key id is still configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from journeyflow.unsubscribe.keys import Keys, load_keys

_VERSION = "jf-unsub-v1"
_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (22 base64url characters)
MAX_TOKEN_LENGTH = 1024
_TOKEN_RE = re.compile(r"([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{2,960})\.([A-Za-z0-9_-]{22})")


@dataclass(frozen=True)
class Claim:
    """What a valid token says: unsubscribe this contact (from this campaign's link)."""

    contact_id: str
    campaign: str
    channel: str
    kid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, kid: str, payload: str) -> str:
    digest = hmac.new(secret, f"{_VERSION}.{kid}.{payload}".encode("ascii"), hashlib.sha256)
    return _b64(digest.digest()[:_MAC_BYTES])


def make_token(contact_id: str, campaign: str, keys: Keys | None = None) -> str:
    """A signed, URL-safe unsubscribe token for ``contact_id`` on channel email.

    ``keys`` defaults to ``load_keys()``; pass them in when signing many tokens.
    """
    for name, value in (("contact_id", contact_id), ("campaign", campaign)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"make_token: {name} must be a non-empty string")
    if keys is None:
        keys = load_keys()
    kid, secret = keys.entries[0]
    raw = json.dumps(["email", campaign, contact_id], ensure_ascii=False, separators=(",", ":"))
    payload = _b64(raw.encode("utf-8"))
    token = f"{kid}.{payload}.{_mac(secret, kid, payload)}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError(
            f"make_token: contact id and campaign too long for a link "
            f"(token of {len(token)} > {MAX_TOKEN_LENGTH} characters)"
        )
    return token


def verify_token(token: str, keys: Keys | None = None) -> Claim | None:
    """The claim of a valid token, else None (garbage, tampered, or signed by an unknown key).

    Never raises for a bad token; a missing/malformed key configuration still raises.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    match = _TOKEN_RE.fullmatch(token)
    if match is None:
        return None
    kid, payload, mac = match.groups()
    if keys is None:
        keys = load_keys()
    secret = keys.secret(kid)
    # compare the encoded MACs: a changed last character (unused bits) must not pass either
    if secret is None or not hmac.compare_digest(_mac(secret, kid, payload), mac):
        return None
    try:
        fields = json.loads(_unb64(payload).decode("utf-8"))
    except (binascii.Error, ValueError):
        return None
    if (
        not isinstance(fields, list)
        or len(fields) != 3
        or not all(isinstance(f, str) and f for f in fields)
    ):
        return None
    channel, campaign, contact_id = fields
    return Claim(contact_id=contact_id, campaign=campaign, channel=channel, kid=kid)


def unsubscribe_url(base_url: str, token: str) -> str:
    """``base_url`` (e.g. ``https://shop.example/journeyflow/u/``) joined with ``token``."""
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", token):
        raise ValueError("unsubscribe_url: token is not a URL-safe unsubscribe token")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"unsubscribe_url: base URL must be absolute http(s), got {base_url!r}")
    if parts.fragment:
        raise ValueError(f"unsubscribe_url: base URL must not have a #fragment: {base_url!r}")
    path = parts.path.rstrip("/") + "/" + token
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
