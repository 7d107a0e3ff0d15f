"""The base HTTP client for the generic source contract (see DESIGN.md, "Source contract").

``GET {base}{path}?{since_param}=<ISO>&cursor=<opaque>&limit=<n>`` returns
``{"data": [...], "next_cursor": "..." | null}``. An adapter for another CRM overrides
``request_params`` and ``read_page`` (and declares its streams); the retry loop stays here.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import requests

from journeyflow.settings import SourceConfig

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class SourceError(RuntimeError):
    """The source cannot be read; the message names the connection and the URL path."""


class Malformed(ValueError):
    """One record breaks the contract; it goes to quarantine with this reason."""

    def __init__(self, reason: str, record_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.record_id = record_id


@dataclass(frozen=True)
class Stream:
    """A declaration: where the stream lives and how one record becomes a staging row."""

    name: str
    path: str
    since_param: str
    replication_key: str
    columns: tuple[str, ...]
    to_row: Callable[[Any], tuple]


class HttpSource:
    """Reads streams page by page with bearer auth, timeouts and retries with backoff."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        config: SourceConfig,
        *,
        conn_id: str = "journeyflow_source",
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.conn_id = conn_id
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "journeyflow"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.requests_made = 0
        self.retries = 0

    # -- hooks an adapter may override ---------------------------------------------------------
    def request_params(self, stream: Stream, since: datetime | None, cursor: str | None) -> dict:
        params: dict[str, Any] = {"limit": self.config.page_size}
        if since is not None:
            params[stream.since_param] = since.isoformat()
        if cursor:
            params["cursor"] = cursor
        return params

    def read_page(self, stream: Stream, doc: Any) -> tuple[list, str | None]:
        """Split a response body into (records, next_cursor)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ValueError('expected an object with a "data" list')
        cursor = doc.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise ValueError('"next_cursor" must be a string or null')
        return doc["data"], cursor or None

    # -- the loop ------------------------------------------------------------------------------
    def pages(self, stream: Stream, since: datetime | None) -> Iterator[list]:
        """Yield the records of each page, following the cursor until it is null."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            doc = self._get(stream, self.request_params(stream, since, cursor))
            try:
                records, cursor = self.read_page(stream, doc)
            except ValueError as exc:
                raise SourceError(
                    self._where(stream) + f" returned an unexpected body: {exc}"
                ) from exc
            yield records
            if cursor is None:
                return
            if cursor in seen:
                raise SourceError(
                    self._where(stream) + f" repeated cursor {cursor[:40]!r}; stopping"
                )
            seen.add(cursor)

    def _where(self, stream: Stream) -> str:
        return f"{self.conn_id}: GET {stream.path}"

    def _get(self, stream: Stream, params: dict) -> Any:
        url = self.base_url + stream.path
        attempt = 0
        while True:
            problem, payload = self._attempt(stream, url, params)
            if problem is None:
                return payload  # the parsed body
            attempt += 1
            if attempt > self.config.max_retries:
                raise SourceError(
                    f"{self._where(stream)} failed after {attempt} attempts: {problem}"
                )
            delay = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
            if payload is not None:  # Retry-After, in seconds
                delay = max(delay, payload)
            self.retries += 1
            log.warning("%s: %s; retry %d in %.1fs", self._where(stream), problem, attempt, delay)
            self._sleep(delay)

    def _attempt(self, stream: Stream, url: str, params: dict) -> tuple[str | None, Any]:
        """One request: (None, body) on success, or (problem, Retry-After seconds|None)."""
        self.requests_made += 1
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            resp = self.session.get(url, params=params, timeout=timeout)
        except requests.Timeout as exc:
            return f"timed out ({type(exc).__name__})", None
        except requests.ConnectionError as exc:
            return f"connection failed ({type(exc).__name__})", None
        if resp.status_code in RETRY_STATUS:
            return f"HTTP {resp.status_code}", _retry_after(resp.headers.get("Retry-After"))
        if resp.status_code in (401, 403):
            raise SourceError(
                f"{self._where(stream)} answered HTTP {resp.status_code}: the source refused the "
                f"credentials; check the password (bearer token) of connection {self.conn_id}"
            )
        if resp.status_code == 404:
            raise SourceError(
                f"{self._where(stream)} answered HTTP 404: check the host (base URL) of "
                f"connection {self.conn_id}"
            )
        if resp.status_code >= 400:
            raise SourceError(
                f"{self._where(stream)} answered HTTP {resp.status_code}; the request was "
                "refused and retrying will not help"
            )
        try:
            return None, orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            return f"invalid JSON in the response ({exc})", None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
