"""The unsubscribe web app: GET shows a confirmation page, POST records the suppression.

Link scanners prefetch GETs, so a GET never unsubscribes. Mail clients' one-click POST (RFC 8058)
and the confirmation form both POST to the same URL. (No ``from __future__ import annotations``
in this module: FastAPI must resolve the handlers' annotations.)
"""

import base64
import hashlib
import html
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from journeyflow import warehouse
from journeyflow.config import ConfigError
from journeyflow.connections import MissingConnection
from journeyflow.sqlfile import statement
from journeyflow.unsubscribe.keys import Keys, load_keys
from journeyflow.unsubscribe.tokens import Claim, verify_token

if TYPE_CHECKING:
    import fastapi

log = logging.getLogger(__name__)

REASON = "unsubscribe_link"
MAX_BODY_BYTES = 8 * 1024


def suppress(contact_id: str, campaign: str, reason: str = REASON, channel: str = "email") -> bool:
    """Suppress every address of the contact on ``channel``; True when the row is new. A
    forgotten person is never mailed anyway: their old link records nothing (it would write the
    contact id back)."""
    from journeyflow.erasure import forgotten

    if forgotten(contact_id):
        log.info("suppression skipped: the contact of this link was forgotten on request")
        return False
    with warehouse.transaction() as conn:
        new = conn.execute(
            statement("unsubscribe/suppress"),
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
        except (ConfigError, MissingConnection) as exc:
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
        except (ConfigError, MissingConnection) as exc:
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
