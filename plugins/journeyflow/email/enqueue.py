"""Enqueue: every queued decision of D becomes one outbox row with its rendered message.

Runs inside the decision transaction. Rows are keyed by (contact, campaign, step, occurrence),
so a rerun of D finds its rows instead of adding new ones. Rendering is CPU work in Python: from
``PARALLEL_FROM`` messages on it runs in worker processes while COPY writes the rows.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from journeyflow import progress, warehouse
from journeyflow.config import load_config
from journeyflow.email.render import Recipient, Renderer
from journeyflow.email.transport import sender_address
from journeyflow.sqlfile import read, statement
from journeyflow.states import Channel

RENDER_CHUNK = 1000
PARALLEL_FROM = 5000  # queued emails from which rendering runs in worker processes
_COPY = (
    "copy journeyflow.outbox (contact_id, campaign, step, occurrence, channel, run_date, "
    "message_id, recipient, message, variant) from stdin"
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
    with conn.connection.dbapi_connection.cursor() as cur:
        cur.execute(read("outbox/recipients"))
        rows = cur.fetchall()  # small tuples; the messages are rendered chunk by chunk below
    now = datetime.now(load_config().tz)
    chunks = [(d, now, rows[i : i + RENDER_CHUNK]) for i in range(0, len(rows), RENDER_CHUNK)]
    with progress.bar("render", "messages", total=len(rows)) as bar:
        if len(rows) < PARALLEL_FROM:
            for chunk, block in zip(
                chunks, map(partial(_render_chunk, renderer), chunks), strict=True
            ):
                warehouse.copy_from(conn, _COPY, io.StringIO(block))
                bar.advance(len(chunk[2]))
        else:  # rendering is CPU work in Python: spread it over the cores while COPY runs
            ctx = multiprocessing.get_context("spawn")
            workers = max(2, min(4, os.cpu_count() or 2))
            init = (renderer.templates_dir, renderer.keys(), renderer.unsubscribe_base(),
                    renderer.from_address)  # fmt: skip
            with ctx.Pool(workers, _init_worker, init) as pool:
                for chunk, block in zip(chunks, pool.imap(_render_in_worker, chunks), strict=True):
                    warehouse.copy_from(conn, _COPY, io.StringIO(block))
                    bar.advance(len(chunk[2]))
    return new + len(rows)


def _copy_text(value: str) -> str:
    """A value for COPY's text format (our values contain CR, LF, never NUL)."""
    return (
        value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        .replace("\t", "\\t")
    )  # fmt: skip


def _render_chunk(renderer: Any, chunk: tuple[date, datetime, list[tuple]]) -> str:
    """Render a chunk of queued recipients into COPY text lines for the outbox."""
    d, now, rows = chunk
    lines = []
    for campaign, step, occurrence, variant, *contact in rows:
        r = Recipient(*contact)
        msg_id, body = renderer.message(r, campaign, step, occurrence, d, now, variant)
        fields = (r.contact_id, campaign, str(step), str(occurrence), Channel.EMAIL, d.isoformat(),
                  msg_id, r.email, body, variant)  # fmt: skip
        lines.append("\t".join(map(_copy_text, fields)))
    return "\n".join(lines) + "\n" if lines else ""


_WORKER_RENDERER: Any = None


def _init_worker(templates_dir: Any, keys: Any, unsubscribe_base: str, from_address: str) -> None:
    global _WORKER_RENDERER
    renderer = Renderer(templates_dir, keys=keys, unsubscribe_base=unsubscribe_base)
    _WORKER_RENDERER = renderer.with_sender(from_address)


def _render_in_worker(chunk: tuple[date, datetime, list[tuple]]) -> str:
    return _render_chunk(_WORKER_RENDERER, chunk)
