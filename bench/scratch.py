"""A throw-away warehouse for benchmarks: a temporary $JOURNEYFLOW_HOME, migrated, filled by SQL."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_warehouse(prefix: str, fill_sql: str, contacts: int) -> Iterator[float]:
    """Start an embedded PostgreSQL in a temporary home, run ``fill_sql`` (statements split on
    ``;``, ``:n`` = contacts) and yield the seconds the fill took; stop and delete it after."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["JOURNEYFLOW_HOME"] = str(home)
    os.environ["JOURNEYFLOW_MODE"] = "local"  # the embedded PostgreSQL of this scratch home
    from sqlalchemy import text

    from journeyflow import migrate, warehouse

    try:
        migrate.migrate()
        started = time.perf_counter()
        with warehouse.transaction() as conn:
            for statement in fill_sql.split(";"):
                if statement.strip():
                    conn.execute(text(statement), {"n": contacts})
        yield time.perf_counter() - started
    finally:
        release(home)


def release(home: Path, keep: bool = False) -> None:
    """Close the warehouse's connections, stop its embedded PostgreSQL, delete ``home``."""
    from journeyflow import warehouse
    from journeyflow.local import embedded

    warehouse.engine().dispose()
    embedded.stop()
    if not keep:
        shutil.rmtree(home, ignore_errors=True)


def free_port() -> int:
    """A TCP port on localhost nobody listens on (for the demo shop, the SMTP sink)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
