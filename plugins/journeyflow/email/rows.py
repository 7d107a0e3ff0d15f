"""Outbox rows of rendered emails, as COPY text, and the entry points of the rendering worker
processes. Imports rendering only (no database, no Airflow), so a worker stays small.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from typing import Any

from journeyflow.email.render import Recipient, Renderer
from journeyflow.states import Channel


def _copy_text(value: str) -> str:
    """A value for COPY's text format (our values contain CR, LF, never NUL)."""
    return (
        value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        .replace("\t", "\\t")
    )  # fmt: skip


def render_rows(renderer: Any, chunk: tuple[date, datetime, list[tuple]]) -> tuple[int, str]:
    """Render a chunk of queued recipients into COPY text lines for the outbox: (rows, text)."""
    d, now, rows = chunk
    lines = []
    for campaign, step, occurrence, variant, *contact in rows:
        r = Recipient(*contact)
        msg_id, body = renderer.message(r, campaign, step, occurrence, d, now, variant)
        fields = (r.contact_id, campaign, str(step), str(occurrence), Channel.EMAIL, d.isoformat(),
                  msg_id, r.email, body, variant)  # fmt: skip
        lines.append("\t".join(map(_copy_text, fields)))
    block = "\n".join(lines) + "\n" if lines else ""
    return len(lines), block


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


def render_in_worker(chunk: tuple[date, datetime, list[tuple]]) -> tuple[int, str]:
    return render_rows(_WORKER_RENDERER, chunk)


def worker_renderer() -> Any:
    """The renderer ``init_worker`` made in this worker process."""
    return _WORKER_RENDERER
