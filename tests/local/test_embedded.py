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
    """wal_level minimal: the nightly contact_facts (truncated, then filled) writes no WAL."""
    with db.transaction() as conn:
        conn.exec_driver_sql("create table journeyflow.t_wal (x int, pad text)")
    try:
        with db.transaction() as conn:
            before = conn.exec_driver_sql("select pg_current_wal_insert_lsn()").scalar()
            conn.exec_driver_sql("truncate journeyflow.t_wal")
            conn.exec_driver_sql(
                "insert into journeyflow.t_wal select g, repeat('x', 100) "
                "from generate_series(1, 50000) g"
            )
            wal = conn.exec_driver_sql(
                f"select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '{before}')"
            ).scalar()
        assert wal < 1_000_000  # about 7 MB of rows, a few kB of WAL
    finally:
        with db.transaction() as conn:
            conn.exec_driver_sql("drop table journeyflow.t_wal")
