"""Schema migrations: ordered, recorded, safe to re-run, loud about edited files."""

from __future__ import annotations

import pytest

from journeyflow import migrate


@pytest.fixture
def schema_dir(tmp_path, db):
    yield tmp_path
    with db.transaction() as conn:
        conn.exec_driver_sql("delete from journeyflow.schema_migrations where version >= 900")
        conn.exec_driver_sql(
            "drop table if exists journeyflow.t_migrate_a, journeyflow.t_migrate_b, "
            "journeyflow.t_migrate_c"
        )


def test_applies_in_order_once(schema_dir, db):
    (schema_dir / "901_b.sql").write_text("create table journeyflow.t_migrate_b (x int);")
    (schema_dir / "900_a.sql").write_text("create table journeyflow.t_migrate_a (x int);")
    assert migrate.migrate(schema_dir) == ["900_a.sql", "901_b.sql"]
    assert migrate.migrate(schema_dir) == []


def test_the_real_schema_is_applied_and_rerunnable(db):
    assert migrate.migrate() == []
    with db.transaction() as conn:
        names = conn.exec_driver_sql(
            "select filename from journeyflow.schema_migrations where version < 900"
        ).scalars()
        assert "001_core.sql" in list(names)


def test_a_percent_sign_in_a_schema_file_is_sql(schema_dir, db):
    (schema_dir / "902_c.sql").write_text(
        "-- 75 % full\ncreate table journeyflow.t_migrate_c as select text 'a%%' as x;"
    )
    assert migrate.migrate(schema_dir) == ["902_c.sql"]
    with db.transaction() as conn:
        assert conn.exec_driver_sql("select x from journeyflow.t_migrate_c").scalar() == "a%%"


def test_edited_applied_file_is_refused(schema_dir):
    f = schema_dir / "900_a.sql"
    f.write_text("create table journeyflow.t_migrate_a (x int);")
    migrate.migrate(schema_dir)
    f.write_text("create table journeyflow.t_migrate_a (x bigint);")
    with pytest.raises(migrate.MigrationError, match="900_a.sql was already applied"):
        migrate.migrate(schema_dir)


def test_sql_error_names_the_file_and_applies_nothing(schema_dir, db):
    (schema_dir / "900_a.sql").write_text("create table journeyflow.t_migrate_a (x int);")
    (schema_dir / "901_b.sql").write_text("create tabel oops;")
    with pytest.raises(migrate.MigrationError, match="901_b.sql"):
        migrate.migrate(schema_dir)
    with db.transaction() as conn:
        assert not conn.exec_driver_sql(
            "select count(*) from journeyflow.schema_migrations where version >= 900"
        ).scalar()


def test_badly_named_file_is_refused(schema_dir):
    (schema_dir / "9_new.sql").write_text("select 1;")
    with pytest.raises(migrate.MigrationError, match="NNN_lowercase_name.sql"):
        migrate.migrate(schema_dir)
