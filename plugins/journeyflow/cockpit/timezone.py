"""The Airflow UI shows times in the configured timezone (Europe/Berlin), not the browser's.

Airflow 3's UI takes its timezone from the browser, or from what the user picked (kept in the
browser's localStorage under ``timezone``). A root middleware of the plugin adds one line to the
UI's page: when the user has not picked a timezone, the configured one is set before the UI
starts. A user's own choice in the UI still wins.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def snippet(timezone: str) -> bytes:
    value = json.dumps(json.dumps(timezone))  # localStorage holds JSON: "\"Europe/Berlin\""
    return (
        "<script>try{if(!localStorage.getItem('timezone'))"
        f"localStorage.setItem('timezone',{value})}}catch(e){{}}</script>"
    ).encode()


class DefaultTimezone:
    """ASGI middleware: inject the default timezone into the UI's HTML pages."""

    def __init__(self, app: ASGIApp, timezone: str | None = None) -> None:
        self.app = app
        self.timezone = timezone

    def _zone(self) -> str:
        if self.timezone is None:
            from journeyflow.config import load_config

            self.timezone = load_config().timezone
        return self.timezone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/journeyflow", "/api", "/execution")):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                headers = dict(message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    start["pass"] = True
                    await send(message)
                return
            if start.get("pass"):
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            if b"<head>" in page:
                page = page.replace(b"<head>", b"<head>" + snippet(self._zone()), 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({"type": "http.response.start", "status": start["status"],
                        "headers": headers})  # fmt: skip
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, capture)
