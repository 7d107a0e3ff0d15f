"""One-click unsubscribe (RFC 8058): signed link tokens, rotating keys, suppressions, web app.

Every marketing email carries ``List-Unsubscribe: <https://…/u/TOKEN>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` plus a visible link to the same URL.

Token: ``KID.PAYLOAD.MAC``, all base64url without padding (URL-safe as is). PAYLOAD is the JSON
list ``[channel, campaign, contact_id]``; MAC is HMAC-SHA256 over ``jf-unsub-v1.KID.PAYLOAD``,
truncated to 128 bits. Tokens are signed, not encrypted (they carry ids, never addresses), and do
not expire: a link must keep working. A token verifies while its key id is still configured.

Keys (first source found wins): the password of Airflow connection ``journeyflow_unsubscribe``,
else env ``JOURNEYFLOW_UNSUBSCRIBE_KEYS``, both ``"kid1:secret1,kid0:secret0"``; else a local demo
key in ``$JOURNEYFLOW_HOME/unsubscribe.key``, created on first use. The first key signs, every
key verifies, so rotation is: prepend the new key, keep the old one while its links matter.

The web app (``create_app``) confirms on GET and unsubscribes only on POST, because link scanners
prefetch GETs. Mail clients' one-click POST and the confirmation form both POST to the same URL.
"""

import base64
import binascii
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from journeyflow import settings
from journeyflow.settings import ConfigError

if TYPE_CHECKING:
    import fastapi

log = logging.getLogger(__name__)

CONN_ID = "journeyflow_unsubscribe"
ENV_VAR = "JOURNEYFLOW_UNSUBSCRIBE_KEYS"
KEY_FILE_NAME = "unsubscribe.key"
LOCAL_KID = "local"
KEY_FORMAT = "'kid1:secret1,kid0:secret0'"
MIN_SECRET_LENGTH = 16
REASON = "unsubscribe_link"

_VERSION = "jf-unsub-v1"
_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (22 base64url characters)
_MAX_TOKEN_LENGTH = 1024
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TOKEN_RE = re.compile(r"([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{2,960})\.([A-Za-z0-9_-]{22})")
MAX_BODY_BYTES = 8 * 1024


class UnsubscribeKeyError(ConfigError):
    """Unsubscribe keys are missing or malformed; the message names the source and the format."""


@dataclass(frozen=True)
class Keys:
    """Unsubscribe signing keys in order: the first signs, every one verifies."""

    entries: tuple[tuple[str, bytes], ...] = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.entries:
            raise UnsubscribeKeyError(f"{self.source or 'unsubscribe keys'}: no key given")

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.entries)

    @property
    def signing_kid(self) -> str:
        return self.entries[0][0]

    def secret(self, kid: str) -> bytes | None:
        """The secret for ``kid``, or None when that key is not (or no longer) configured."""
        for known, secret in self.entries:
            if known == kid:
                return secret
        return None

    def __repr__(self) -> str:
        return f"Keys(kids={self.kids!r}, source={self.source!r})"


@dataclass(frozen=True)
class Claim:
    """What a valid token says: unsubscribe this contact (from this campaign's link)."""

    contact_id: str
    campaign: str
    channel: str
    kid: str


# --- keys ---------------------------------------------------------------------------------------


def parse_keys(text: str, source: str = ENV_VAR) -> Keys:
    """Parse ``"kid1:secret1,kid0:secret0"``; errors name ``source`` but never echo a secret."""

    def fail(problem: str) -> UnsubscribeKeyError:
        return UnsubscribeKeyError(
            f"{source}: malformed unsubscribe keys ({problem}); expected {KEY_FORMAT}: "
            f"comma-separated kid:secret pairs, kid of 1-32 letters, digits, '_' or '-', "
            f"secret of at least {MIN_SECRET_LENGTH} characters without ','; "
            f"the first key signs, every key verifies"
        )

    if not isinstance(text, str) or not text.strip():
        raise fail("empty")
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # tolerate one trailing comma
    entries: list[tuple[str, bytes]] = []
    for number, raw in enumerate(parts, start=1):
        entry = raw.strip()
        if not entry:
            raise fail(f"entry {number} is empty")
        kid, sep, secret = entry.partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not sep:
            raise fail(f"entry {number} has no ':' between kid and secret")
        if not _KID_RE.fullmatch(kid):
            raise fail(f"entry {number} has an invalid kid")
        if len(secret) < MIN_SECRET_LENGTH:
            raise fail(
                f"entry {number} (kid {kid!r}) has a secret shorter than {MIN_SECRET_LENGTH}"
            )
        if any(kid == known for known, _ in entries):
            raise fail(f"kid {kid!r} appears twice")
        entries.append((kid, secret.encode("utf-8")))
    return Keys(tuple(entries), source)


def key_file() -> Path:
    """The local demo key file: ``$JOURNEYFLOW_HOME/unsubscribe.key``."""
    return settings.home() / KEY_FILE_NAME


def load_keys() -> Keys:
    """Keys from connection ``journeyflow_unsubscribe``, else the env var, else the local file.

    Calls Airflow's connection lookup each time: callers signing many tokens load once and pass
    the result on.
    """
    from journeyflow.connections import get_connection

    conn = get_connection(CONN_ID)
    if conn is not None:
        keys = parse_keys(conn.password or "", f"Airflow connection {CONN_ID!r} (password)")
    elif os.environ.get(ENV_VAR) is not None:
        keys = parse_keys(os.environ[ENV_VAR], f"environment variable {ENV_VAR}")
    else:
        path = key_file()
        keys = parse_keys(_read_or_create_key_file(path), f"key file {path}")
    log.debug("unsubscribe keys from %s, kids %s", keys.source, ", ".join(keys.kids))
    return keys


def _read_or_create_key_file(path: Path) -> str:
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=".unsubscribe-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{LOCAL_KID}:{secrets.token_urlsafe(32)}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # atomic, and never replaces a key another process just made
            log.warning(
                "created local demo unsubscribe key %s: links signed with it verify only with "
                "this file; set connection %s or %s for production",
                path,
                CONN_ID,
                ENV_VAR,
            )
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        log.warning("unsubscribe key file %s is readable by others; chmod 600 it", path)
    return path.read_text(encoding="utf-8")


# --- tokens -------------------------------------------------------------------------------------


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
    if len(token) > _MAX_TOKEN_LENGTH:
        raise ValueError(
            f"make_token: contact id and campaign too long for a link "
            f"(token of {len(token)} > {_MAX_TOKEN_LENGTH} characters)"
        )
    return token


def verify_token(token: str, keys: Keys | None = None) -> Claim | None:
    """The claim of a valid token, else None (garbage, tampered, or signed by an unknown key).

    Never raises for a bad token; a missing/malformed key configuration still raises.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
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


# --- suppressions -------------------------------------------------------------------------------


def suppress(contact_id: str, campaign: str, reason: str = REASON, channel: str = "email") -> bool:
    """Suppress every address of the contact on ``channel``; True when the row is new."""
    import sqlalchemy as sa

    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        new = conn.execute(
            sa.text(
                "insert into journeyflow.suppressions (contact_id, channel, address, reason, "
                "campaign) values (:contact_id, :channel, '', :reason, :campaign) "
                "on conflict (contact_id, channel, address) do nothing returning 1"
            ),
            {"contact_id": contact_id, "channel": channel, "reason": reason, "campaign": campaign},
        ).first()
    log.info(
        "suppression %s: contact %s channel %s campaign %s reason %s",
        "recorded" if new else "already present",
        contact_id,
        channel,
        campaign,
        reason,
    )
    return new is not None


# --- web app ------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;"
    "line-height:1.5;color:#222}button{font-size:1em;padding:.5em 1.2em;cursor:pointer}"
)
_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "content-security-policy": _CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

_PAGES: dict[str, tuple[str, str, str]] = {  # title, German text, English text
    "confirm": (
        "Abmelden / Unsubscribe",
        "Möchten Sie keine Marketing-E-Mails mehr von uns erhalten? "
        "Bitte bestätigen Sie die Abmeldung.",
        "Do you want to stop receiving marketing emails from us? Please confirm.",
    ),
    "done": (
        "Sie wurden abgemeldet / You have been unsubscribed",
        "Sie wurden abgemeldet und erhalten keine Marketing-E-Mails mehr von uns.",
        "You have been unsubscribed and will no longer receive marketing emails from us.",
    ),
    "invalid": (
        "Link ungültig / Link invalid",
        "Dieser Abmeldelink ist ungültig. Bitte verwenden Sie den vollständigen Link aus der "
        "E-Mail.",
        "This unsubscribe link is invalid. Please use the complete link from the email.",
    ),
    "too_large": (
        "Anfrage zu groß / Request too large",
        "Die Anfrage ist zu groß.",
        "The request is too large.",
    ),
    "unavailable": (
        "Vorübergehend nicht verfügbar / Temporarily unavailable",
        "Die Abmeldung ist gerade nicht möglich. Bitte versuchen Sie es später noch einmal.",
        "Unsubscribing is not possible right now. Please try again later.",
    ),
}

_FORM = (
    '<form method="post">'
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Abmelden / Unsubscribe</button></form>'
)


def render_page(kind: str) -> str:
    """The bilingual HTML page ``kind`` (see ``_PAGES``); everything in it is escaped."""
    title, german, english = (html.escape(text) for text in _PAGES[kind])
    form = _FORM if kind == "confirm" else ""
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex, nofollow"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f'<p>{german}</p><p lang="en">{english}</p>{form}</body></html>'
    )


def _key_loader(keys: Keys | None, ttl: float) -> Callable[[], Keys]:
    """Fixed keys, or ``load_keys()`` cached for ``ttl`` seconds (rotation needs no restart)."""
    if keys is not None:
        return lambda: keys
    lock = threading.Lock()
    cached: list[tuple[float, Keys]] = []

    def get() -> Keys:
        with lock:
            if cached and time.monotonic() - cached[0][0] < ttl:
                return cached[0][1]
        fresh = load_keys()
        with lock:
            cached[:] = [(time.monotonic(), fresh)]
        return fresh

    return get


def create_app(keys: Keys | None = None, *, key_ttl: float = 60.0) -> "fastapi.FastAPI":
    """The unsubscribe web app: GET/HEAD/POST ``/u/{token}`` and GET ``/healthz``.

    ``keys`` defaults to ``load_keys()``, re-read at most every ``key_ttl`` seconds. Nothing is
    loaded or connected at creation. (No ``from __future__ import annotations`` in this module:
    FastAPI must resolve the handlers' annotations, and ``Request`` is imported here.)
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, Response
    from starlette.concurrency import run_in_threadpool

    get_keys = _key_loader(keys, key_ttl)
    app = FastAPI(title="journeyflow unsubscribe", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def page(kind: str, status: int, method: str = "GET") -> Response:
        if method == "HEAD":
            return Response(status_code=status, media_type="text/html; charset=utf-8")
        return HTMLResponse(render_page(kind), status_code=status)

    async def claim_for(token: str) -> Claim | None:
        current = await run_in_threadpool(get_keys)
        claim = verify_token(token, current)
        if claim is None:
            log.info("unsubscribe link rejected (invalid or unknown key)")
        return claim

    @app.api_route("/u/{token}", methods=["GET", "HEAD"], include_in_schema=False)
    async def confirm(token: str, request: Request) -> Response:
        """Confirmation page only: scanners prefetch GETs, so a GET never unsubscribes."""
        try:
            claim = await claim_for(token)
        except ConfigError as exc:
            log.error("unsubscribe keys unusable: %s", exc)
            return page("unavailable", 503, request.method)
        return page("confirm" if claim else "invalid", 200 if claim else 400, request.method)

    @app.post("/u/{token}", include_in_schema=False)
    async def unsubscribe(token: str, request: Request) -> Response:
        """RFC 8058 one-click POST or the confirmation form: record the suppression."""
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return page("too_large", 413)
        try:
            claim = await claim_for(token)
        except ConfigError as exc:
            log.error("unsubscribe keys unusable: %s", exc)
            return page("unavailable", 503)
        if claim is None:
            return page("invalid", 400)
        # The body (List-Unsubscribe=One-Click, urlencoded or multipart, or the form) only
        # signals intent, which the POST itself already does; read it within the limit.
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return page("too_large", 413)
        try:
            await run_in_threadpool(
                suppress, claim.contact_id, claim.campaign, REASON, claim.channel
            )
        except Exception:
            log.exception(
                "unsubscribe: recording the suppression failed (contact %s)", claim.contact_id
            )
            return page("unavailable", 503)
        return page("done", 200)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
