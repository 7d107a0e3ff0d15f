"""The embedded PostgreSQL of local mode runs with its own settings (a restart applies them)."""

from __future__ import annotations

from journeyflow.local.embedded import EMBEDDED_SETTINGS


def test_the_embedded_server_runs_with_its_settings(db):
    with db.transaction() as conn:
        shown = {
            name: conn.exec_driver_sql(f"select current_setting('{name}')").scalar()
            for name in EMBEDDED_SETTINGS
        }
    assert shown == EMBEDDED_SETTINGS


def test_a_table_truncated_in_the_transaction_is_loaded_without_wal(db):
    """wal_level minimal: the nightly contact_facts (truncated, then filled) writes no WAL. The
    same rows into the table as it is write their WAL (what else the server logs meanwhile, an
    autovacuum, counts in both)."""
    fill = (
        "insert into journeyflow.t_wal select g, repeat('x', 100) from generate_series(1, 50000) g"
    )
    with db.transaction() as conn:
        conn.exec_driver_sql("create table journeyflow.t_wal (x int, pad text)")
    try:
        with db.transaction() as conn:
            logged = _wal_of(conn, fill)
        with db.transaction() as conn:
            skipped = _wal_of(conn, "truncate journeyflow.t_wal", fill)
        assert logged > 5_000_000  # about 7 MB of rows
        assert skipped < logged / 10
    finally:
        with db.transaction() as conn:
            conn.exec_driver_sql("drop table journeyflow.t_wal")


def _wal_of(conn, *statements: str) -> int:
    """Bytes of WAL the server wrote while ``statements`` ran."""
    before = conn.exec_driver_sql("select pg_current_wal_insert_lsn()").scalar()
    for sql in statements:
        conn.exec_driver_sql(sql)
    return conn.exec_driver_sql(
        f"select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '{before}')"
    ).scalar()
