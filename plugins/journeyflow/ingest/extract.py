"""Extract: pull one stream since its watermark into staging, page by page, with COPY.

Malformed records never stop the stream: they go to ``journeyflow.quarantine`` with the reason
and the raw record, and so does a row the database refuses. One transaction per stream: all or
nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import msgspec
import psycopg2
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from journeyflow import progress, warehouse
from journeyflow.config import load_config
from journeyflow.connections import require
from journeyflow.ingest.client import HttpSource, SourceError, Stream
from journeyflow.ingest.pages import decode_record
from journeyflow.ingest.prefetch import prefetch
from journeyflow.ingest.quarantine import db_reason, quarantine
from journeyflow.ingest.streams import STREAMS
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

SOURCE_CONN_ID = "journeyflow_source"
# what the database raises for a row it will not store (COPY raises psycopg2's own errors)
_REFUSED = (DBAPIError, psycopg2.DataError, psycopg2.IntegrityError, UnicodeEncodeError)


@contextmanager
def open_source(run_date: date) -> Iterator[HttpSource]:
    """The ``journeyflow_source`` connection; in local mode without it, the bundled demo shop
    as of D's cut-off (never outside local mode: ``MissingConnection``)."""
    config = load_config()
    conn = require(SOURCE_CONN_ID)
    if conn is not None:
        yield HttpSource(source_base_url(conn), conn.password or None, config.source)
        return
    from journeyflow.local.demo_source import DemoSourceServer, dataset_for

    dataset = dataset_for(run_date)
    clock = config.cutoff(run_date).timestamp()
    with DemoSourceServer(dataset, clock=clock) as server:
        log.info(
            "no %s connection: serving the demo shop (%d contacts)", SOURCE_CONN_ID, dataset.size
        )
        yield HttpSource(server.url, None, config.source)


def source_base_url(conn: Any) -> str:
    """The base URL of the source connection (host, or schema://host:port)."""
    host = (conn.host or "").rstrip("/")
    if not host:
        raise SourceError(
            f"connection {SOURCE_CONN_ID} has no host: set it to the source's base URL"
        )
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


def extract(stream_name: str, run_date: date) -> StepResult:
    """Pull one stream since its watermark into staging (COPY); bad records to quarantine.

    Three things overlap: the next page is fetched while this one is mapped to rows, and the
    previous page is copied into PostgreSQL by a writer thread. At most three pages are in
    memory at once, however large the source is. One transaction: all or nothing.
    """
    stream = STREAMS[stream_name]
    result = StepResult(f"extract_{stream_name}")
    started = time.perf_counter()
    with warehouse.transaction() as conn, ThreadPoolExecutor(1, "copy") as writer:
        since = watermark(conn, stream)
        conn.exec_driver_sql(f"truncate journeyflow_staging.{stream.name}")
        pages = 0
        pending: Future | None = None
        with open_source(run_date) as source, progress.bar(result.step, "records") as bar:
            for page in prefetch(source.pages(stream, since)):
                pages += 1
                bar.note = f"{pages:,} pages"
                bar.advance(len(page))
                rows, kept, bad = stream.map_records(page)
                data = _csv(rows)
                if pending is not None:
                    result.quarantined += pending.result()
                pending = writer.submit(_store_page, conn, stream, data, rows, kept, bad, run_date)
                result.rows_in += len(page)
            if pending is not None:
                result.quarantined += pending.result()
            result.rows_out = result.rows_in - result.quarantined
            result.details = {
                "since": since.isoformat() if since else None,
                "pages": pages,
                "requests": source.requests_made,
                "retries": source.retries,
            }
        conn.execute(
            statement("ingest/record_batch"),
            {
                "s": stream.name,
                "d": run_date,
                "since": since,
                "p": pages,
                "n": result.rows_in,
                "ok": result.rows_out,
                "q": result.quarantined,
            },
        )
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    log.info(
        "%s: %d records in %d pages, %d staged, %d quarantined, %.1fs",
        stream.name, result.rows_in, pages, result.rows_out, result.quarantined, result.seconds,
    )  # fmt: skip
    return result


def watermark(conn: Connection, stream: Stream) -> datetime | None:
    """Where the pull of ``stream`` starts: the watermark, or None before the first merge.

    A watermark after the cut-off of the run that set it (plus the grace) was moved there by a
    record from the future before merges checked; it fails with what to do instead of pulling.
    """
    cfg = load_config()
    mark = conn.execute(
        statement("ingest/watermark"),
        {"s": stream.name, "tz": cfg.timezone, "grace": cfg.quality.future_grace_hours},
    ).one_or_none()
    if mark is None or mark.value is not None:
        return None if mark is None else mark.value
    raise RuntimeError(
        f"the {stream.name} watermark in journeyflow.watermarks is {mark.shown}, after the "
        f"cut-off of its run {mark.run_date} plus quality.future_grace_hours ({mark.latest}): a "
        f"record dated in the future moved it there. Set it back to the newest plausible "
        f"{stream.replication_key} merged (update journeyflow.watermarks set value = '...' "
        f"where stream = '{stream.name}') and clear this task"
    )


def _store_page(
    conn: Connection,
    stream: Stream,
    data: str,
    rows: list,
    kept: list,
    bad: list,
    run_date: date,
) -> int:
    """COPY a page's rows and quarantine its bad records; returns how many were quarantined."""
    if rows:
        bad = bad + _copy_rows(conn, stream, rows, kept, data)
    if bad:
        quarantine(conn, stream.name, run_date, bad)
    return len(bad)


def _copy_sql(stream: Stream) -> str:
    return (
        f"copy journeyflow_staging.{stream.name} ({', '.join(stream.columns)}) "
        "from stdin with (format csv)"
    )


def _csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    data = buf.getvalue()
    if "\r" in data:  # a bare CR ends a row for PostgreSQL: CRLF line ends make the writer
        buf = io.StringIO()  # quote every field holding a CR (rare, so only then)
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        data = buf.getvalue()
    return data


def _copy(conn: Connection, stream: Stream, data: str) -> BaseException | None:
    """COPY ``data`` in a savepoint; the database's refusal, or None when it is stored."""
    savepoint = conn.begin_nested()
    try:
        warehouse.copy_from(conn, _copy_sql(stream), io.StringIO(data))
    except _REFUSED as exc:
        savepoint.rollback()
        return exc
    savepoint.commit()
    return None


def _copy_rows(
    conn: Connection, stream: Stream, rows: list[tuple], recs: list, data: str | None = None
) -> list[tuple]:
    """COPY rows; if the database refuses some, find them by halving and return them."""
    refused = _copy(conn, stream, _csv(rows) if data is None else data)
    if refused is None:
        return []
    if len(rows) == 1:
        rec = decode_record(recs[0]) if isinstance(recs[0], msgspec.Raw) else recs[0]
        return [(rows[0][0], db_reason(refused), rec)]
    half = len(rows) // 2
    return _copy_rows(conn, stream, rows[:half], recs[:half]) + _copy_rows(
        conn, stream, rows[half:], recs[half:]
    )
