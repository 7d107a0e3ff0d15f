"""Airflow connections, and the two modes: production (the default) and local.

Everything external is an Airflow connection (metadata DB, secrets backend or ``AIRFLOW_CONN_*``
env, JSON or URI). In *local mode* (``JOURNEYFLOW_MODE=local``: ``make demo``, ``make up``, the
tests) a missing connection has a local stand-in: the embedded PostgreSQL, the demo shop, ``.eml``
files, a local drop folder, a generated signing key. *Everywhere else* a missing connection is an
error that names it and says how to set it; nothing falls back on its own.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODE_ENV = "JOURNEYFLOW_MODE"
MODES = ("production", "local")


@dataclass(frozen=True)
class Needed:
    """A connection journeyflow uses: what it is for and an example of setting it."""

    conn_id: str
    purpose: str
    example: str
    local_stand_in: str


NEEDED = {
    n.conn_id: n
    for n in (
        Needed(
            "journeyflow_db",
            "the warehouse (PostgreSQL)",
            '{"conn_type": "postgres", "host": "db.internal", "port": 5432, "login": "...", '
            '"password": "...", "schema": "marketing"}',
            "the embedded PostgreSQL in $JOURNEYFLOW_HOME/pgdata",
        ),
        Needed(
            "journeyflow_source",
            "contacts and events (the shop or CRM)",
            '{"conn_type": "http", "host": "https://shop.example/api", "password": "<token>"}',
            "the bundled demo shop",
        ),
        Needed(
            "journeyflow_smtp",
            "campaign emails",
            '{"conn_type": "smtp", "host": "smtp.example", "port": 587, "login": "...", '
            '"password": "...", "extra": {"disable_ssl": true, "from_email": "news@shop.example"}}',
            ".eml files in $JOURNEYFLOW_HOME/outbox",
        ),
        Needed(
            "journeyflow_postal_drop",
            "postal mailing files for the print vendor",
            '{"conn_type": "sftp", "host": "sftp.vendor.example", "login": "...", '
            '"password": "...", "extra": {"path": "/inbox"}} or {"conn_type": "fs", '
            '"extra": {"path": "/some/folder"}}',
            "the folder $JOURNEYFLOW_HOME/postal",
        ),
        Needed(
            "journeyflow_unsubscribe",
            "unsubscribe links (host: the public https base URL, password: signing keys)",
            '{"conn_type": "generic", "host": "https://airflow.shop.example/journeyflow/u/", '
            '"password": "k1:<a long random secret>"}',
            "a key generated in $JOURNEYFLOW_HOME/unsubscribe.key and campaigns.unsubscribe_url",
        ),
        Needed(
            "journeyflow_erasure",
            "the key of the hashes that stay of forgotten people (password; needed once someone "
            "asks to be forgotten, then for good)",
            '{"conn_type": "generic", "password": "<a long random secret>"}',
            "a key generated in $JOURNEYFLOW_HOME/erasure.key",
        ),
    )
}


class MissingConnection(RuntimeError):
    """A connection journeyflow needs is not defined (and this is not local mode)."""

    def __init__(self, conn_id: str) -> None:
        needed = NEEDED.get(conn_id)
        purpose = f" ({needed.purpose})" if needed else ""
        example = f", e.g. AIRFLOW_CONN_{conn_id.upper()}='{needed.example}'" if needed else ""
        super().__init__(
            f"connection {conn_id}{purpose} is not defined: add it in Airflow (Admin > "
            f"Connections) or as an environment variable{example}. Nothing was changed. "
            f"(For a demo on this machine, run in local mode: {MODE_ENV}=local or make demo.)"
        )
        self.conn_id = conn_id


def mode() -> str:
    """``production`` (the default) or ``local``; an unknown value is an error, not a guess."""
    value = os.environ.get(MODE_ENV, "").strip().lower() or "production"
    if value not in MODES:
        raise ValueError(
            f"{MODE_ENV}={os.environ[MODE_ENV]!r} is not a mode: use local (make demo, the "
            "tests) or leave it unset for production"
        )
    return value


def local_mode() -> bool:
    return mode() == "local"


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None when it is not defined anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowRuntimeError

    try:
        return Connection.get(conn_id)
    except AirflowRuntimeError:
        return None
    except Exception as exc:  # AirflowNotFoundException lives in different modules across 3.x
        if type(exc).__name__ == "AirflowNotFoundException":
            return None
        raise


def require(conn_id: str) -> Any | None:
    """The connection ``conn_id``. Missing: None in local mode (the caller uses its local
    stand-in), else ``MissingConnection``."""
    conn = get_connection(conn_id)
    if conn is None and not local_mode():
        raise MissingConnection(conn_id)
    return conn


def missing(conn_ids: list[str]) -> list[str]:
    """The connections of ``conn_ids`` that are not defined (all of them count in any mode)."""
    return [conn_id for conn_id in conn_ids if get_connection(conn_id) is None]


def local_secret(path: Path, content: str, what: str) -> str:
    """The text of a local secret file, created with ``content`` (mode 0600) on first use, also
    when several processes ask at once; ``what`` says in the warning what it is and what to
    set instead."""
    if not path.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, path)  # atomic, and never replaces a key another process just made
            log.warning("created local demo %s (%s)", path, what)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        log.warning("key file %s is readable by others; chmod 600 it", path)
    return path.read_text(encoding="utf-8")
