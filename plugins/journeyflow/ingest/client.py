"""The base HTTP client for the generic source contract (see DESIGN.md, "Source contract").

``GET {base}{path}?{since_param}=<ISO>&cursor=<opaque>&limit=<n>`` returns
``{"data": [...], "next_cursor": "..." | null}``. An adapter for another CRM overrides
``request_params`` and ``read_page`` (and declares its streams); the retry loop stays here.
"""

from __future__ import annotations

import email.utils
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import msgspec
import orjson
import requests
import urllib3

from journeyflow.config import SourceConfig
from journeyflow.ingest.pages import (
    NUL_ESCAPE,
    BadJSON,
    Page,
    Unparseable,
    careful_page,
    contract_page,
    decode_record,
)

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


class Unusual(Exception):  # noqa: N818 (a signal, not an error)
    """A typed record is not in the common shape: map its page the careful way instead."""


@dataclass(frozen=True)
class Stream:
    """A declaration: where the stream lives and how one record becomes a staging row.

    ``to_row`` maps a JSON object and names what is wrong with a malformed one. Optionally,
    ``record_type`` (a msgspec Struct) and ``struct_row`` give a fast path for the generic
    contract: each record is decoded and type-checked in C and mapped with no per-field checks.
    ``struct_row`` raises ``Unusual`` for anything it is not sure of; that record then goes the
    careful way through ``to_row``, so both paths stage exactly the same rows.
    """

    name: str
    path: str
    since_param: str
    replication_key: str
    columns: tuple[str, ...]
    to_row: Callable[[Any], tuple]
    record_type: type | None = None
    struct_row: Callable[[Any], tuple] | None = None

    @cached_property
    def record_decoder(self) -> msgspec.json.Decoder | None:
        return None if self.record_type is None else msgspec.json.Decoder(self.record_type)

    def map_records(self, page: Page) -> tuple[list[tuple], list, list[tuple]]:
        """(rows, the record each row came from, [(record_id, reason, record)] malformed).

        No record stops the page: one that no mapper can take is returned as malformed.
        """
        rows: list[tuple] = []
        kept: list = []
        bad: list[tuple[str | None, str, Any]] = []
        careful = self.to_row

        def take(rec: Any) -> None:
            if isinstance(rec, Unparseable):
                bad.append((None, rec.reason, rec))
                return
            try:
                rows.append(careful(rec))
                kept.append(rec)
            except Malformed as exc:
                bad.append((exc.record_id, exc.reason, rec))
            except Exception as exc:  # a mapper bug: keep the record, name the bug, go on
                kind = type(exc).__name__
                log.error("%s: a record could not be mapped (%s); quarantined", self.name, kind)
                bad.append((None, f"could not be mapped ({kind}); please report this bug", rec))

        if page.raws is not None and self.record_decoder is not None:
            decode, fast, nul = self.record_decoder.decode, self.struct_row, page.has_nul
            for raw in page.raws:
                if nul and NUL_ESCAPE in bytes(raw):  # PostgreSQL stores no NUL: name the field
                    take(decode_record(raw))
                    continue
                try:
                    rows.append(fast(decode(raw)))
                    kept.append(raw)
                except (msgspec.MsgspecError, ValueError, Unusual):
                    take(decode_record(raw))
        else:
            for rec in page.records:
                take(rec)
        return rows, kept, bad


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
            params[stream.since_param] = since.astimezone(UTC).isoformat()
        if cursor:
            params["cursor"] = cursor
        return params

    def read_page(self, stream: Stream, doc: Any) -> tuple[list, str | None]:
        """Split a parsed response body into (records, next_cursor)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise ValueError('expected an object with a "data" list')
        cursor = doc.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise ValueError('"next_cursor" must be a string or null')
        return doc["data"], cursor or None

    # -- the loop ------------------------------------------------------------------------------
    def parse_page(self, stream: Stream, body: bytes) -> Page:
        """Decode a body; raises ``BadJSON`` if it is not JSON at all.

        A record that strict decoders refuse (a lone surrogate, a number out of range) does not
        make the page unreadable: the page is read again leniently and the record quarantined.
        """
        if type(self).read_page is HttpSource.read_page:  # the generic contract: split only
            page = contract_page(body)
            if page is not None:
                return page
            doc = careful_page(body)
        else:
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                doc = careful_page(body)
        records, cursor = self.read_page(stream, doc)
        return Page(cursor, decoded=records)

    def pages(self, stream: Stream, since: datetime | None) -> Iterator[Page]:
        """Yield each page, following the cursor until it is null.

        Bounded: a source that repeats a cursor, or a page it already sent under a new cursor,
        is paging in a loop; one with more than ``source.max_pages`` pages may page forever.
        Either fails with a ``SourceError`` instead of running on.
        """
        cursor: str | None = None
        cursors: set[str] = set()
        sent: dict[bytes, int] = {}  # fingerprint of a page's records -> its number
        limit = self.config.max_pages
        for number in itertools.count(1):
            page = self._get(stream, self.request_params(stream, since, cursor))
            cursor = page.cursor
            if cursor in cursors:
                raise SourceError(
                    f"{self._where(stream)} repeated cursor {cursor[:40]!r}: the source is "
                    "paging in a loop; stopping"
                )
            fingerprint = page.fingerprint()
            if fingerprint is not None and sent.setdefault(fingerprint, number) != number:
                raise SourceError(
                    f"{self._where(stream)} sent page {number} with exactly the records of page "
                    f"{sent[fingerprint]} under a new cursor: the source is paging in a loop; "
                    "stopping. Check how the source builds its cursors before running again"
                )
            yield page
            if cursor is None:
                return
            cursors.add(cursor)
            if number >= limit:
                raise SourceError(
                    f"{self._where(stream)} still had a next cursor after {limit:,} pages, the "
                    "limit of source.max_pages: the source may be paging forever. If the stream "
                    f"really is that long (pages of {self.config.page_size:,} records), raise "
                    "source.max_pages in journeyflow.yaml"
                )

    def _where(self, stream: Stream) -> str:
        return f"{self.conn_id}: GET {stream.path}"

    def _get(self, stream: Stream, params: dict) -> Page:
        url = self.base_url + stream.path
        attempt = 0
        while True:
            problem, payload = self._attempt(stream, url, params)
            if problem is None:
                return payload  # the parsed body
            attempt += 1
            if payload is not None and payload > self.config.backoff_max:  # Retry-After
                raise SourceError(
                    f"{self._where(stream)} answered {problem} and asked to retry after "
                    f"{payload:,.0f} s, longer than source.backoff_max "
                    f"({self.config.backoff_max:g} s): not waiting that long. Run again later, "
                    "or raise source.backoff_max in journeyflow.yaml to wait for it"
                )
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
        """One request: (None, page) on success, or (problem, Retry-After seconds|None)."""
        self.requests_made += 1
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            resp = self.session.get(url, params=params, timeout=timeout, stream=True)
            with resp:
                # one read of the whole body: reading in small chunks from a background thread
                # would wait for the GIL once per chunk while the main thread maps records
                body = resp.raw.read(decode_content=True)
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            return f"timed out ({type(exc).__name__})", None
        except (requests.ConnectionError, urllib3.exceptions.HTTPError) as exc:
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
            return None, self.parse_page(stream, body)
        except BadJSON as exc:
            return f"invalid JSON in the response ({exc})", None
        except ValueError as exc:
            raise SourceError(f"{self._where(stream)} returned an unexpected body: {exc}") from exc


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
