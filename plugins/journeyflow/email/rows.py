"""Outbox rows of rendered emails, in COPY's binary format, and the entry points of the
rendering worker processes. Imports rendering only (no database, no Airflow), so a worker stays
small.
"""

from __future__ import annotations

import os
import struct
from datetime import date, datetime
from typing import Any

from journeyflow.email.mime import forget_lines
from journeyflow.email.render import Recipient, Renderer
from journeyflow.states import Channel

# COPY's binary format: a header, each row as its field count and length-prefixed fields, and
# a trailer. No escaping in Python, no unescaping in PostgreSQL (a message is 5-10 KB of text).
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
_FIELDS = struct.Struct("!h")  # 10 fields per row
_INT4 = struct.Struct("!ii")  # length 4 and the value: an integer, or a date as days since 2000
_EPOCH = date(2000, 1, 1)


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def render_rows(renderer: Any, chunk: tuple[date, datetime, list[tuple]]) -> tuple[int, bytes]:
    """Render a chunk of queued recipients into outbox rows in COPY's binary format, header
    and trailer included: (rows, data). The columns are ``enqueue._COPY``'s."""
    d, now, rows = chunk
    day = _INT4.pack(4, (d - _EPOCH).days)
    email = _text(Channel.EMAIL)
    out = [COPY_HEADER]
    for campaign, step, occurrence, variant, *contact in rows:
        r = Recipient(*contact)
        msg_id, body = renderer.message(r, campaign, step, occurrence, d, now, variant)
        out += (_FIELDS.pack(10), _text(r.contact_id), _text(campaign),
                _INT4.pack(4, step), _INT4.pack(4, occurrence),
                email, day, _text(msg_id), _text(r.email), _text(body), _text(variant))  # fmt: skip
    out.append(COPY_TRAILER)
    forget_lines()  # a chunk's own lines (names, links) are not kept past it
    return len(rows), b"".join(out)


_WORKER_RENDERER: Any = None


def worker_count() -> int:
    """Rendering processes: one per core, at least 2, at most 4."""
    return max(2, min(4, os.cpu_count() or 2))


def worker_args(renderer: Renderer) -> tuple:
    """What ``init_worker`` needs to make the same renderer in a worker process."""
    return (renderer.templates_dir, renderer.keys(), renderer.unsubscribe_base(),
            renderer.from_address)  # fmt: skip


def init_worker(templates_dir: Any, keys: Any, unsubscribe_base: str, from_address: str) -> None:
    global _WORKER_RENDERER
    renderer = Renderer(templates_dir, keys=keys, unsubscribe_base=unsubscribe_base)
    _WORKER_RENDERER = renderer.with_sender(from_address)


def render_in_worker(chunk: tuple[date, datetime, list[tuple]]) -> tuple[int, bytes]:
    return render_rows(_WORKER_RENDERER, chunk)


def worker_renderer() -> Any:
    """The renderer ``init_worker`` made in this worker process."""
    return _WORKER_RENDERER
