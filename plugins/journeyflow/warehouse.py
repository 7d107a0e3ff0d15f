"""The warehouse: the PostgreSQL of connection ``journeyflow_db``.

One engine per process; sessions run in the configured timezone. Without the connection, local
mode uses the embedded PostgreSQL (``journeyflow.local.embedded``); production fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from journeyflow.config import load_config
from journeyflow.connections import require

CONN_ID = "journeyflow_db"


def database_url() -> URL:
    """SQLAlchemy URL of the warehouse: ``journeyflow_db``; in local mode without it, the
    embedded PostgreSQL (started if needed)."""
    conn = require(CONN_ID)
    if conn is None:
        from journeyflow.local import embedded

        return embedded.start()
    host = conn.host or None
    query: dict[str, str] = {}
    if host and host.startswith("/"):  # unix socket folder
        query["host"], host = host, None
    extra = conn.extra_dejson if conn.extra else {}
    for key in ("sslmode", "sslrootcert", "application_name"):
        if key in extra:
            query[key] = str(extra[key])
    return URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=host,
        port=conn.port or None,
        database=conn.schema or "postgres",
        query=query,
    )


def _integer(digits: str) -> int | Decimal:
    """An integer of a JSON document; one too long for ``int()`` (over 4,300 digits, a limit
    of Python's) as a Decimal, which has none."""
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


def loads(text: str) -> Any:
    """JSON from the warehouse (json and jsonb columns): a quarantined record keeps whatever a
    source sent, and must read back, also with a number of 5,000 digits."""
    return json.loads(text, parse_int=_integer)


@lru_cache(maxsize=1)
def engine() -> Engine:
    """One engine per process for the warehouse.

    Sessions run in the configured timezone: "T - 180 days" then means 180 calendar days on the
    Berlin clock, across daylight saving changes, as marketing reads the rulebook.
    """
    cfg = load_config()
    tz = cfg.timezone
    return sa.create_engine(
        database_url(),
        pool_pre_ping=True,
        pool_size=2,
        # a sender shard holds its lock and one connection per SMTP worker, a task the run lock
        max_overflow=cfg.campaigns.sender.connections + 8,
        hide_parameters=True,  # errors must not carry names, addresses or rendered mail
        json_deserializer=loads,  # also for json read by plain SQL (psycopg2's typecaster)
        # UTF-8 whatever PGCLIENTENCODING says: the outbox's binary COPY sends UTF-8 bytes
        connect_args={"options": f"-c timezone={tz}", "client_encoding": "utf8"},
    )


def reset() -> None:
    """Close this process's engine, if it has one; the next use connects anew (after the
    connection or the mode changed)."""
    if engine.cache_info().currsize:
        engine().dispose()
    engine.cache_clear()


@contextmanager
def transaction() -> Iterator[Connection]:
    """A connection inside one transaction: commit on success, roll back on error."""
    with engine().begin() as conn:
        yield conn


def copy_from(conn: Connection, sql: str, data) -> None:
    """Run ``COPY ... FROM STDIN`` inside the connection's open transaction."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # one read of the whole buffer (see extract: small reads from a thread wait for the GIL)
        cursor.copy_expert(sql, data, size=1 << 26)
    finally:
        cursor.close()


def lock_for_transaction(conn: Connection, key: int) -> None:
    """Wait for the advisory lock ``key``; PostgreSQL releases it at the end of the transaction."""
    conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": key})


@contextmanager
def session_lock(name: str) -> Iterator[bool]:
    """Try the advisory lock ``name`` on a connection of its own, held for the block; yields
    whether it was free. PostgreSQL releases it if the process dies."""
    with engine().connect() as conn:
        got = conn.execute(sa.text("select pg_try_advisory_lock(hashtext(:n))"), {"n": name})
        held = bool(got.scalar_one())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                conn.execute(sa.text("select pg_advisory_unlock(hashtext(:n))"), {"n": name})
                conn.commit()
