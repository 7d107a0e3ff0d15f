"""The embedded PostgreSQL of local mode: a real PostgreSQL 16 from the ``pgserver`` wheel.

It keeps its data in ``$JOURNEYFLOW_HOME/pgdata`` and keeps running between task processes;
``stop()`` stops it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from journeyflow.config import home, runtime_dir

log = logging.getLogger(__name__)

# Settings for the embedded server only: it is a local, rebuildable copy, so we trade
# durability of the last commits on power loss for load speed. Production servers are untouched.
# wal_level minimal: a table truncated or created in a transaction is written without WAL (the
# nightly contact_facts, the staged batch); nothing replicates from this server. random_page_cost
# 1.1: its data is on local SSD or in memory, so a few thousand index lookups (the day's events
# against the kept ones) beat reading a whole table.
EMBEDDED_SETTINGS = {
    "shared_buffers": "1GB",
    "synchronous_commit": "off",
    "max_wal_size": "4GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "random_page_cost": "1.1",
}


def pgdata_dir() -> Path:
    return home() / "pgdata"


def start(pgdata: Path | None = None) -> URL:
    """Start (or attach to) the embedded PostgreSQL and return its SQLAlchemy URL."""
    runtime_dir()  # pgserver keeps its lock file there
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        import pgserver
    except ImportError as exc:
        raise RuntimeError(
            "local mode needs the embedded PostgreSQL: pip install 'journeyflow[local]' (a "
            "checkout has it with uv sync); in production set the journeyflow_db connection"
        ) from exc

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


def running(pgdata: Path | None = None) -> bool:
    """True when the embedded server of ``pgdata`` runs."""
    runtime_dir()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata or pgdata_dir())
    return info is not None and info.is_running()


def stop(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when it was running."""
    pgdata = pgdata or pgdata_dir()
    if not running(pgdata):
        return False
    try:
        _pg_ctl(pgdata, "stop")
    except Exception:  # another process stopped it at the same moment: fine if it is down
        if running(pgdata):
            raise
    return True


def _pg_ctl(pgdata: Path, action: str) -> None:
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs postgres as this user
    pg_ctl(["-w", "-m", "fast", action], pgdata=pgdata, user=user)
