"""Extract: pull one stream since its watermark into staging, page by page, with COPY.

Malformed records never stop the stream: they go to ``journeyflow.quarantine`` with the reason
and the raw record. One transaction per stream: all or nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any

import msgspec
import orjson
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.connections import get_connection
from journeyflow.ingest.client import HttpSource, Stream
from journeyflow.ingest.prefetch import prefetch
from journeyflow.ingest.streams import STREAMS
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

SOURCE_CONN_ID = "journeyflow_source"


@contextmanager
def open_source(run_date: date) -> Iterator[HttpSource]:
    """The ``journeyflow_source`` connection, or the bundled demo shop as of D's cut-off."""
    config = load_config()
    conn = get_connection(SOURCE_CONN_ID)
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
    host = (conn.host or "").rstrip("/")
    if not host:
        raise ValueError(
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
        since = conn.execute(statement("ingest/watermark"), {"s": stream.name}).scalar()
        conn.exec_driver_sql(f"truncate journeyflow_staging.{stream.name}")
        pages = 0
        pending: Future | None = None
        with open_source(run_date) as source:
            for page in prefetch(source.pages(stream, since)):
                pages += 1
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
        bad = bad + _copy_rows(conn, stream, data, rows, kept)
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
    return buf.getvalue()


def _copy_rows(
    conn: Connection, stream: Stream, data: str, rows: list[tuple], recs: list
) -> list[tuple]:
    """COPY a page; if the database rejects it, find and return the rejected records."""
    savepoint = conn.begin_nested()
    try:
        warehouse.copy_from(conn, _copy_sql(stream), io.StringIO(data))
        savepoint.commit()
        return []
    except DBAPIError:
        savepoint.rollback()
    rejected = []
    for row, rec in zip(rows, recs, strict=True):
        if not isinstance(rec, dict):
            rec = msgspec.json.decode(rec)
        savepoint = conn.begin_nested()
        try:
            warehouse.copy_from(conn, _copy_sql(stream), io.StringIO(_csv([row])))
            savepoint.commit()
        except DBAPIError as exc:
            savepoint.rollback()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            rejected.append((row[0], f"rejected by the database: {reason}", rec))
    return rejected


def quarantine(conn: Connection, stream: str, run_date: date, bad: list[tuple]) -> None:
    """Keep malformed records with their reason; the same record twice is kept once."""
    params = []
    for record_id, reason, rec in bad:
        raw = orjson.dumps(rec).decode().replace("\\u0000", "\\\\u0000")  # jsonb refuses NUL
        params.append({
            "s": stream, "id": record_id, "reason": reason, "raw": raw,
            "h": hashlib.sha256(raw.encode()).hexdigest(), "d": run_date,
        })  # fmt: skip
    conn.execute(statement("ingest/quarantine"), params)
