"""Serve a DemoDataset over the source contract on localhost (a thread or its own process)."""

from __future__ import annotations

import hmac
import logging
import math
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

from journeyflow.local.demo_source.dataset import DemoDataset

log = logging.getLogger(__name__)
MAX_LIMIT = 10_000


class _BadRequest(ValueError):
    pass


class DemoSourceServer:
    """``with DemoSourceServer(dataset, clock=...) as src: src.url`` — a real HTTP source.

    ``clock`` (epoch seconds) hides everything that happens at or after it; move it forward
    to let a later run see new data.
    """

    def __init__(
        self,
        dataset: DemoDataset,
        *,
        clock: float | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.dataset = dataset
        self.clock = dataset.t_anchor if clock is None else clock
        self.token = token
        self.requests = 0
        self._cache: dict[str, tuple[int, float, list[bytes]]] = {}
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DemoSourceServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> DemoSourceServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pages ------------------------------------------------------------------------------------
    def prerender(self, limit: int, since: dict[str, float] | None = None) -> int:
        """Render one pull of both streams once, for benchmarks that measure the pipeline rather
        than this generator: the full pull, or (``since``: stream -> epoch) the delta a run with
        those watermarks asks for. Returns the number of pages kept in memory."""
        since = since or {}
        for name, render in (("contacts", self.contacts_page), ("events", self.events_page)):
            start = since.get(name, float("-inf"))
            pages: list[bytes] = []
            cursor = None
            while True:
                body = render(start, cursor, limit)
                cursor = body["next_cursor"]
                body["next_cursor"] = f"k{len(pages) + 1}" if cursor else None
                pages.append(orjson.dumps(body))
                if cursor is None:
                    break
            self._cache[name] = (limit, start, pages)
        return sum(len(p) for _, _, p in self._cache.values())

    def _cached(
        self, stream: str, since: str | None, cursor: str | None, limit: int
    ) -> bytes | None:
        if stream not in self._cache:
            return None
        size, start, pages = self._cache[stream]
        if not math.isclose(_epoch(since), start, abs_tol=1e-3):  # the same watermark
            return None
        if cursor is None and limit == size:
            return pages[0]
        if cursor and cursor.startswith("k"):
            return pages[int(cursor[1:])]
        return None

    def contacts_page(self, since: float, cursor: str | None, limit: int) -> dict:
        ds, clock = self.dataset, self.clock
        i = int(cursor) if cursor else 0
        data = []
        while i < ds.size and len(data) < limit:
            tl = ds.timeline(i)
            i += 1
            if tl.created < clock and ds.updated_at(tl, clock) >= since:
                data.append(ds.contact_as_of(tl, clock))
        return {"data": data, "next_cursor": str(i) if i < ds.size else None}

    def events_page(self, since: float, cursor: str | None, limit: int) -> dict:
        ds, clock = self.dataset, self.clock
        i, skip = map(int, cursor.split(".")) if cursor else (0, 0)
        data: list = []
        while i < ds.size:
            records = ds.event_records(ds.timeline(i), since, clock)[skip:]
            room = limit - len(data)
            if len(records) > room:
                data.extend(records[:room])
                return {"data": data, "next_cursor": f"{i}.{skip + room}"}
            data.extend(records)
            i, skip = i + 1, 0
            if len(data) >= limit:
                break
        return {"data": data, "next_cursor": f"{i}.0" if i < ds.size else None}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep test and demo output quiet
                log.debug(fmt, *args)

            def _send(self, status: int, body: dict | bytes) -> None:
                payload = body if isinstance(body, bytes) else orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests += 1
                parts = urlsplit(self.path)
                if parts.path == "/health":
                    return self._send(200, {"status": "ok"})
                if server.token is not None:
                    got = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(got.encode(), f"Bearer {server.token}".encode()):
                        return self._send(401, {"error": "missing or wrong bearer token"})
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    limit = int(query.get("limit", 1000))
                    if not 1 <= limit <= MAX_LIMIT:
                        raise _BadRequest(f"limit must be 1..{MAX_LIMIT}")
                    name = parts.path.strip("/")
                    since_key = "updated_since" if name == "contacts" else "since"
                    cached = server._cached(name, query.get(since_key), query.get("cursor"), limit)
                    if cached is not None:
                        return self._send(200, cached)
                    if parts.path == "/contacts":
                        since = _epoch(query.get("updated_since"))
                        body = server.contacts_page(since, query.get("cursor"), limit)
                    elif parts.path == "/events":
                        since = _epoch(query.get("since"))
                        body = server.events_page(since, query.get("cursor"), limit)
                    else:
                        return self._send(404, {"error": f"no such resource {parts.path}"})
                except (_BadRequest, ValueError) as exc:
                    return self._send(400, {"error": str(exc)})
                self._send(200, body)

        return Handler


def _epoch(value: str | None) -> float:
    if not value:
        return float("-inf")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise _BadRequest("timestamps need a UTC offset")
    return parsed.timestamp()
