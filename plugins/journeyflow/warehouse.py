"""The warehouse: connection ``journeyflow_db``, or an embedded PostgreSQL when it is absent.

The embedded server comes from the ``pgserver`` wheel (a real PostgreSQL 16) and keeps its data in
``$JOURNEYFLOW_HOME/pgdata``. It keeps running between task processes; ``stop_embedded()`` stops it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from journeyflow import settings
from journeyflow.connections import get_connection

log = logging.getLogger(__name__)

CONN_ID = "journeyflow_db"

# Settings for the embedded server only: it is a local, rebuildable copy, so we trade
# durability of the last commits on power loss for load speed. Production servers are untouched.
EMBEDDED_SETTINGS = {
    "shared_buffers": "1GB",
    "synchronous_commit": "off",
    "max_wal_size": "4GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
}


def pgdata_dir() -> Path:
    return settings.home() / "pgdata"


def start_embedded(pgdata: Path | None = None) -> URL:
    """Start (or attach to) the embedded PostgreSQL and return its SQLAlchemy URL."""
    settings.runtime_dir()  # pgserver keeps its lock file there
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver

    pgdata = pgdata or pgdata_dir()
    first = not (pgdata / "PG_VERSION").exists()
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    url = make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1))
    if first:
        log.info("initialised embedded PostgreSQL in %s", pgdata)
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name, value in EMBEDDED_SETTINGS.items():
                conn.exec_driver_sql(f"alter system set {name} = '{value}'")
        engine.dispose()
        _pg_ctl(pgdata, "restart")  # shared_buffers needs a restart
    return url


def stop_embedded(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when it was running."""
    settings.runtime_dir()
    from pgserver.utils import PostmasterInfo

    pgdata = pgdata or pgdata_dir()
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    _pg_ctl(pgdata, "stop")
    engine.cache_clear()
    return True


def _pg_ctl(pgdata: Path, action: str) -> None:
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs postgres as this user
    pg_ctl(["-w", "-m", "fast", action], pgdata=pgdata, user=user)


def database_url() -> URL:
    """SQLAlchemy URL of the warehouse: ``journeyflow_db`` if defined, else the embedded one."""
    conn = get_connection(CONN_ID)
    if conn is None:
        return start_embedded()
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


@lru_cache(maxsize=1)
def engine() -> Engine:
    """One engine per process for the warehouse.

    Sessions run in the configured timezone: "T - 180 days" then means 180 calendar days on the
    Berlin clock, across daylight saving changes, as marketing reads the rulebook.
    """
    tz = settings.load_config().timezone
    return sa.create_engine(
        database_url(),
        pool_pre_ping=True,
        pool_size=2,
        hide_parameters=True,  # errors must not carry names, addresses or rendered mail
        connect_args={"options": f"-c timezone={tz}"},
    )


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
