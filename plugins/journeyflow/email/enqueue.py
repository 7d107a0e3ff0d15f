"""Enqueue: every queued decision of D becomes one outbox row with its rendered message.

Runs inside the decision transaction. Rows are keyed by (contact, campaign, step, occurrence),
so a rerun of D finds its rows instead of adding new ones. Rendering is CPU work in Python: from
``PARALLEL_FROM`` messages on it runs in worker processes while COPY writes the rows.
"""

from __future__ import annotations

import io
import multiprocessing
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from journeyflow import progress, warehouse
from journeyflow.config import load_config
from journeyflow.email.render import Recipient, Renderer
from journeyflow.email.rows import (
    init_worker,
    render_in_worker,
    render_rows,
    worker_args,
    worker_count,
)
from journeyflow.email.transport import sender_address
from journeyflow.sqlfile import read, statement

RENDER_CHUNK = 500  # rows per chunk: a chunk of messages is about 3 MB of text
PARALLEL_FROM = 5000  # queued emails from which rendering runs in worker processes
_COPY = (
    "copy journeyflow.outbox (contact_id, campaign, step, occurrence, channel, run_date, "
    "message_id, recipient, message, variant) from stdin (format binary)"
)


def load_recipient(contact_id: str) -> Recipient | None:
    """One contact as ``Recipient`` (``journeyflow preview``), or None."""
    with warehouse.transaction() as conn:
        row = conn.execute(statement("outbox/recipient"), {"c": contact_id}).first()
    return Recipient(*row) if row is not None else None


def enqueue(conn: Connection, d: date) -> int:
    """Outbox rows for the queued decisions in ``decided`` (same transaction). Returns new rows."""
    d_ = {"d": d}
    conn.execute(statement("outbox/cancel_not_allowed"), d_)
    conn.execute(statement("outbox/cancel_unchosen"), d_)
    conn.execute(statement("outbox/requeue_chosen"), d_)
    conn.execute(statement("outbox/forget_held_out"), d_)
    conn.execute(statement("outbox/queue_held_out"), d_)
    new = conn.execute(statement("outbox/queue_letters"), d_).rowcount
    renderer = Renderer().with_sender(sender_address())
    # computed once into a temp table: its row count sizes the work, its rows feed the cursor
    conn.exec_driver_sql("drop table if exists pg_temp.recipients")
    total = conn.exec_driver_sql(
        f"create temp table recipients on commit drop as {read('outbox/recipients')}"
    ).rowcount
    now = datetime.now(load_config().tz)
    # a server-side cursor: the recipients come chunk by chunk, never all in memory at once
    with conn.connection.dbapi_connection.cursor(name="recipients") as cur:
        cur.itersize = RENDER_CHUNK
        cur.execute("select * from recipients order by n")
        batches = iter(lambda: cur.fetchmany(RENDER_CHUNK), [])
        chunks = ((d, now, [row[1:] for row in rows]) for rows in batches)  # without n
        with progress.bar("render", "messages", total=total) as bar:
            if total < PARALLEL_FROM:
                rendered = _copy_rendered(conn, map(partial(render_rows, renderer), chunks), bar)
            else:  # rendering is CPU work in Python: spread it over the cores while COPY runs
                ctx = multiprocessing.get_context("spawn")
                workers = worker_count()
                with ctx.Pool(workers, init_worker, worker_args(renderer)) as pool:
                    rendered = _copy_rendered(conn, _in_order(pool, chunks, 2 * workers), bar)
    return new + rendered


def _in_order(pool: Any, chunks: Iterator[tuple], ahead: int) -> Iterator[tuple[int, bytes]]:
    """Rendered chunks in order, at most ``ahead`` in the workers at a time. The chunks are read
    here, in the caller's thread: the connection is never used by two threads at once (a FETCH
    during a COPY would hang it)."""
    pending: deque = deque()
    for chunk in chunks:
        pending.append(pool.apply_async(render_in_worker, (chunk,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _copy_rendered(conn: Connection, blocks: Iterator[tuple[int, bytes]], bar: Any) -> int:
    """COPY rendered blocks into the outbox as they come; returns the rows written."""
    rows = 0
    for count, block in blocks:
        warehouse.copy_from(conn, _COPY, io.BytesIO(block))
        bar.advance(count)
        rows += count
    return rows
