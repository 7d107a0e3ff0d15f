"""Apply ``sql/schema/NNN_*.sql`` in order, once each, and record what was applied.

Safe to re-run: applied files are skipped; an applied file whose text changed is an error
(add a new file instead of editing an applied one). A lock keeps concurrent runs apart.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.config import SQL_DIR
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

SCHEMA_DIR = SQL_DIR / "schema"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x6A666D67  # "jfmg"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(schema_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path}: schema files must be named NNN_lowercase_name.sql (e.g. 004_add_x.sql)"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is also used by {found[version].path}")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


def migrate(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Apply pending schema files; returns the names applied in this call."""
    migrations = discover(schema_dir)
    applied_now: list[str] = []
    with warehouse.transaction() as conn:
        warehouse.lock_for_transaction(conn, _LOCK_KEY)
        conn.execute(statement("migrate/journeyflow_schema"))
        conn.execute(statement("migrate/schema_migrations"))
        done = {row.version: row for row in conn.execute(statement("migrate/applied"))}
        for m in migrations:
            if m.version in done:
                if done[m.version].checksum != m.checksum:
                    raise MigrationError(
                        f"{m.path.name} was already applied but its text has changed; "
                        "restore it and put the change in a new, higher-numbered file"
                    )
                continue
            log.info("applying %s", m.path.name)
            try:
                _run_script(conn, m.path.read_text(encoding="utf-8"))
            except Exception as exc:
                raise MigrationError(f"{m.path.name}: {exc}") from exc
            conn.execute(
                statement("migrate/record"), {"v": m.version, "f": m.path.name, "c": m.checksum}
            )
            applied_now.append(m.path.name)
    return applied_now


def _run_script(conn: Connection, sql: str) -> None:
    """Run a schema file as it is: through the driver's cursor without parameters, so that a
    ``%`` in it (``like 'a%'``, a comment) is SQL, not a placeholder."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
