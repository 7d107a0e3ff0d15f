"""export_mailing on the embedded PostgreSQL with a local-folder drop: files, outbox, send_log."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from journeyflow import campaigns, cli
from journeyflow import config as settings
from journeyflow.postal.drop import CONN_ID, DeliveryError
from journeyflow.postal.export import PostalExportError, build_dir, export_mailing

D = date(2026, 11, 21)
FOLDER = "win_back/2026-11-21"
STEM = "mailing_win_back_2026-11-21"
ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"


@pytest.fixture
def postal(db, tmp_path, monkeypatch):
    """Clean postal tables and build folder, and an fs drop in tmp_path/drop."""
    with db.transaction() as conn:
        conn.exec_driver_sql("truncate journeyflow.postal_rejects, journeyflow.postal_exports")
    shutil.rmtree(build_dir(), ignore_errors=True)
    drop = tmp_path / "drop"
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "fs", "extra": {"path": str(drop)}}))
    yield drop
    shutil.rmtree(build_dir(), ignore_errors=True)


def add_contact(conn, contact_id: str, **fields) -> None:
    row = {
        "contact_id": contact_id,
        "salutation": "Herr",
        "first_name": "Max",
        "last_name": "Mustermann",
        "street": "Hauptstraße",
        "house_number": "1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        **fields,
    }
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    row |= {"created_at": stamp, "updated_at": stamp, "address_changed_at": stamp,
            "first_run_date": D, "changed_run_date": D}  # fmt: skip
    cols = ", ".join(row)
    conn.execute(
        text(
            f"insert into journeyflow.contacts ({cols}) values ({', '.join(':' + c for c in row)})"
        ),
        row,
    )


def add_outbox(
    conn, contact_id: str, status: str = "queued", run_date: date = D, occurrence: int = 1
) -> None:
    conn.execute(
        text(
            "insert into journeyflow.outbox"
            " (contact_id, campaign, step, occurrence, channel, run_date, status)"
            " values (:c, 'win_back', 1, :o, 'postal', :d, :s)"
        ),
        {"c": contact_id, "d": run_date, "s": status, "o": occurrence},
    )


def seed(db) -> None:
    with db.transaction() as conn:
        add_contact(conn, "c1", postal_code="01067", city="Dresden")
        add_contact(conn, "c2", last_name="Meier", house_number="5")
        add_contact(conn, "c3", last_name="Meier", house_number=" 5", street="Hauptstr.")
        add_contact(conn, "c4", postal_code="1234")
        add_contact(conn, "c5", country="AT", postal_code="1010", city="Wien", first_name="=1+1")
        for contact_id in ("c1", "c2", "c3", "c4", "c5", "c9"):  # c9: no contact row
            add_outbox(conn, contact_id)
        add_contact(conn, "e1", last_name="Email")  # other channel: not exported
        conn.execute(
            text(
                "insert into journeyflow.outbox"
                " (contact_id, campaign, step, occurrence, channel, run_date)"
                " values ('e1', 'win_back', 1, 1, 'email', :d)"
            ),
            {"d": D},
        )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def table(db, sql: str) -> list[tuple]:
    with db.transaction() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_export_then_rerun_is_identical_and_delivers_once(postal, db, caplog):
    seed(db)
    caplog.set_level(logging.INFO)
    result = export_mailing(D, "win_back", "scheduled__2026-11-21")
    assert result["rows"] == 3 and result["rejected"] == 3
    assert result["file"] == f"{FOLDER}/{STEM}.csv"
    assert result["delivered"] == 4 and result["skipped"] == 0
    assert "below the minimum of 200" in result["warnings"][0]
    assert "Mustermann" not in caplog.text and "Hauptstr" not in caplog.text

    folder = postal / FOLDER
    files = snapshot(folder)
    assert sorted(files) == sorted(
        f"{STEM}{s}" for s in (".csv", ".manifest.json", ".rejects.csv", ".done")
    )
    lines = files[f"{STEM}.csv"].decode().splitlines()
    assert lines[0].startswith("Kundennummer;Anrede;")
    # by PLZ as text: 01067, 1010 (AT), 10115
    assert [line.split(";")[0] for line in lines[1:]] == ["c1", "c5", "c2"]
    action = settings.load_config().postal.action_code("win_back")
    assert ";01067;" in lines[1] and ";'=1+1;" in lines[2] and lines[1].endswith(f";{action}")
    manifest = json.loads(files[f"{STEM}.manifest.json"])
    assert manifest["row_count"] == 3 and manifest["run_id"] == "scheduled__2026-11-21"
    assert manifest["sha256"] == result["sha256"]
    assert (build_dir() / FOLDER / f"{STEM}.csv").read_bytes() == files[f"{STEM}.csv"]

    rejects = table(db, "select contact_id, reason from journeyflow.postal_rejects order by 1")
    assert rejects == [
        ("c3", "household: same as c2"),
        ("c4", "postal_code not valid for DE (5 digits)"),
        ("c9", "contact not found"),
    ]
    outbox_sql = (
        "select contact_id, status, last_error, sent_at from journeyflow.outbox"
        " where channel = 'postal' order by 1"
    )
    outbox = table(db, outbox_sql)
    assert [(c, s, e) for c, s, e, _ in outbox] == [
        ("c1", "exported", None),
        ("c2", "exported", None),
        ("c3", "household", "household: same as c2"),
        ("c4", "cancelled", "postal_code not valid for DE (5 digits)"),
        ("c5", "exported", None),
        ("c9", "cancelled", "contact not found"),
    ]
    assert all(sent is not None for c, s, _, sent in outbox if s == "exported")
    send_log_sql = "select * from journeyflow.send_log order by contact_id"
    send_log = table(db, send_log_sql)
    assert [(r[0], r[3], r[5]) for r in send_log] == [
        ("c1", "postal", D), ("c2", "postal", D), ("c5", "postal", D),
    ]  # fmt: skip
    exports = table(db, "select run_id, file_name, rows, sha256, delivered_at from "
                        "journeyflow.postal_exports")  # fmt: skip
    assert exports[0][:4] == ("scheduled__2026-11-21", result["file"], 3, result["sha256"])
    assert exports[0][4] is not None
    assert table(db, "select status from journeyflow.outbox where channel = 'email'") == [
        ("queued",)
    ]

    again = export_mailing(D, "win_back", "manual__retry")
    assert again["delivered"] == 0 and again["skipped"] == 0  # delivered before: not touched
    assert again["delivered_at"] == result["delivered_at"]
    assert again["sha256"] == result["sha256"] and again["rows"] == 3 and again["rejected"] == 3
    assert again["run_id"] == "scheduled__2026-11-21"
    assert snapshot(folder) == files
    assert table(db, send_log_sql) == send_log
    assert table(db, outbox_sql) == outbox
    assert table(db, "select run_id, file_name, rows, sha256, delivered_at from "
                     "journeyflow.postal_exports") == exports  # fmt: skip
    assert len(table(db, "select * from journeyflow.postal_rejects")) == 3


def test_a_built_mailing_is_final_and_delivered_once(postal, db):
    seed(db)
    first = export_mailing(D, "win_back", "run-1")
    files = snapshot(postal / FOLDER)
    with db.transaction() as conn:  # the data changes after the build ...
        conn.execute(
            text("update journeyflow.contacts set street = 'Neue Str.' where contact_id = 'c1'")
        )
    shutil.rmtree(postal)  # ... and the vendor has picked the files up
    again = export_mailing(D, "win_back", "run-2")
    assert again["sha256"] == first["sha256"] and again["delivered"] == 0
    assert not postal.exists()  # not delivered a second time

    # A delivery that failed before the marker gets exactly the first build, not today's data.
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "update journeyflow.postal_exports set delivered_at = null, marker_at = null"
        )
    shutil.rmtree(build_dir())
    retry = export_mailing(D, "win_back", "run-3")
    assert retry["delivered"] == 4 and snapshot(postal / FOLDER) == files


def test_a_marker_upload_in_doubt_waits_for_the_operator(postal, db, capsys):
    seed(db)
    export_mailing(D, "win_back", "run-1")
    with db.transaction() as conn:  # the process died right after the marker went up ...
        conn.exec_driver_sql("update journeyflow.postal_exports set delivered_at = null")
    shutil.rmtree(postal)  # ... and the vendor took the set before anyone looked
    with pytest.raises(PostalExportError, match="--resolve delivered"):
        export_mailing(D, "win_back", "run-2")
    assert not postal.exists()
    assert cli.main(["postal"]) == 0
    assert "IN DOUBT" in capsys.readouterr().out
    assert cli.main(["postal", "--date", str(D), "--campaign", "win_back",
                     "--resolve", "resend"]) == 0  # fmt: skip
    assert export_mailing(D, "win_back", "run-3")["delivered"] == 4  # the vendor said: resend
    assert cli.main(["postal", "--date", str(D)]) == 0
    out = capsys.readouterr().out
    assert "IN DOUBT" not in out and "win_back" in out


def test_no_accepted_rows_writes_no_mailing(postal, db):
    with db.transaction() as conn:
        add_contact(conn, "c1", street="")
        add_outbox(conn, "c1")
    result = export_mailing(D, "win_back", "run-1")
    assert result["rows"] == 0 and result["file"] is None and result["rejected"] == 1
    assert "no piece to mail, all 1 rows were rejected" in result["warnings"][0]
    assert not postal.exists()
    rejects = build_dir() / FOLDER / f"{STEM}.rejects.csv"
    assert str(rejects) in result["warnings"][0]
    assert rejects.read_text(encoding="utf-8").splitlines()[1] == "c1;missing street"
    assert table(db, "select status, last_error from journeyflow.outbox") == [
        ("cancelled", "missing street")
    ]
    assert table(db, "select count(*) from journeyflow.send_log") == [(0,)]
    assert table(db, "select count(*) from journeyflow.postal_exports") == [(0,)]
    again = export_mailing(D, "win_back", "run-2")  # nothing queued: the rejects stay
    assert again["rejected"] == 1 and again["rows"] == 0


def test_failed_delivery_is_finished_by_the_retry_or_the_next_date(postal, db, monkeypatch):
    seed(db)
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "fs"}))  # no path: delivery fails
    with pytest.raises(DeliveryError):
        export_mailing(D, "win_back", "attempt-1")
    # built and recorded before delivery: the pieces are committed to this mailing
    assert table(db, "select count(*) from journeyflow.send_log") == [(3,)]
    assert table(db, "select run_id, delivered_at from journeyflow.postal_exports") == [
        ("attempt-1", None)
    ]
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "fs", "extra": {"path": str(postal)}}))
    with db.transaction() as conn:  # a change in between does not reach the built file
        conn.execute(text("update journeyflow.contacts set city = 'Potsdam'"))
    later = D + timedelta(days=1)
    assert "win_back.export_postal" in campaigns.choose(later)  # the DAG runs the export
    result = export_mailing(later, "win_back", "next-night")
    assert result["caught_up"] == [str(D)] and result["rows"] == 0
    manifest = json.loads((postal / FOLDER / f"{STEM}.manifest.json").read_text())
    assert manifest["run_id"] == "attempt-1"
    assert "Potsdam" not in (postal / FOLDER / f"{STEM}.csv").read_text(encoding="utf-8")
    retry = export_mailing(D, "win_back", "attempt-2")
    assert retry["delivered"] == 0 and retry["run_id"] == "attempt-1"


def test_rows_queued_on_an_earlier_date_go_into_the_next_file(postal, db):
    with db.transaction() as conn:
        add_contact(conn, "c1")
        add_contact(conn, "c2", last_name="Meier")
        add_outbox(conn, "c1", run_date=D - timedelta(days=1))  # its export never ran
        add_outbox(conn, "c2")
    result = export_mailing(D, "win_back", "run-1")
    assert result["rows"] == 2
    rows = table(db, "select contact_id, run_date from journeyflow.send_log order by 1")
    assert rows == [("c1", D - timedelta(days=1)), ("c2", D)]
    assert export_mailing(D - timedelta(days=1), "win_back", "old")["rows"] == 0


def test_only_the_columns_of_the_file_must_be_encodable(postal, db, config):
    postal_config = {
        "profile": "latin1",
        "action_codes": {"win_back": "WB-€"},
        "profiles": {"latin1": {"encoding": "iso-8859-1",
                                "columns": [["Kdnr", "contact_id"], ["Name", "last_name"],
                                            ["Aktion", "action"]]}},
    }  # fmt: skip
    config(lambda raw: raw.update(postal=postal_config))
    with db.transaction() as conn:
        add_contact(conn, "c1", city="Łódź")  # not a column of this profile
        add_outbox(conn, "c1")
    with pytest.raises(PostalExportError, match=r"postal.action_codes.win_back \('WB-€'\)"):
        export_mailing(D, "win_back", "run-1")
    postal_config["action_codes"]["win_back"] = "WB"
    config(lambda raw: raw.update(postal=postal_config))
    assert export_mailing(D, "win_back", "run-1")["rows"] == 1


def test_vendor_profile_from_config(postal, db, config):
    postal_config = {
        "profile": "latin1",
        "min_pieces": 1,
        "action_codes": {"win_back": "WB-26"},
        "profiles": {
            "latin1": {
                "delimiter": "|",
                "encoding": "iso-8859-1",
                "columns": [["Kdnr", "contact_id"], ["Name", "last_name"], ["PLZ", "postal_code"],
                            ["Aktion", "action"]],
            }
        },
    }  # fmt: skip
    config(lambda raw: raw.update(postal=postal_config))
    with db.transaction() as conn:
        add_contact(conn, "c1", last_name="Jäger")
        add_contact(conn, "c2", last_name="Nguyễn", street="Ring")
        add_outbox(conn, "c1")
        add_outbox(conn, "c2")
    result = export_mailing(D, "win_back", "run-1")
    assert result["rows"] == 1 and result["warnings"] == []
    data = (postal / FOLDER / f"{STEM}.csv").read_bytes()
    assert data == "Kdnr|Name|PLZ|Aktion\r\nc1|Jäger|10115|WB-26\r\n".encode("iso-8859-1")
    assert table(db, "select contact_id, reason from journeyflow.postal_rejects") == [
        ("c2", "cannot be encoded in iso-8859-1: last_name")
    ]


def test_a_crash_after_the_upload_is_recorded_as_delivered_by_the_next_attempt(
    postal, db, monkeypatch
):
    from journeyflow.postal import export

    seed(db)
    record = export.record_delivery

    def crash(row):
        raise RuntimeError("killed after the upload, before recording it")

    monkeypatch.setattr(export, "record_delivery", crash)
    with pytest.raises(RuntimeError, match="killed"):
        export_mailing(D, "win_back", "run-1")
    monkeypatch.setattr(export, "record_delivery", record)
    files = snapshot(postal / FOLDER)
    with db.transaction() as conn:  # an objection now does not change what the vendor has
        conn.execute(
            text("update journeyflow.contacts set postal_opt_out = true where contact_id = 'c1'")
        )
    again = export_mailing(D, "win_back", "run-2")
    assert again["delivered"] == 0 and again["delivered_at"] is not None
    assert snapshot(postal / FOLDER) == files
    assert table(db, "select status from journeyflow.outbox where contact_id = 'c1'") == [
        ("exported",)
    ]


def test_a_rebuild_touches_only_its_own_mailing_and_keeps_every_reject(postal, db, monkeypatch):
    earlier = D - timedelta(days=200)
    with db.transaction() as conn:
        add_contact(conn, "a1", last_name="Meier")
        add_contact(conn, "b1", last_name="Meier")  # a1's household
        add_contact(conn, "c1", last_name="Roth", postal_code="123")  # rejected
        add_contact(conn, "d1", last_name="Kurz", house_number="4")
        add_outbox(conn, "a1", run_date=earlier)
        add_outbox(conn, "b1", run_date=earlier)
    export_mailing(earlier, "win_back", "run-earlier")  # delivered: a1, b1 as household
    with db.transaction() as conn:
        for contact_id in ("a1", "c1", "d1"):
            add_outbox(conn, contact_id, occurrence=2 if contact_id == "a1" else 1)
    working = os.environ[ENV]
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "fs"}))  # no path: delivery fails
    with pytest.raises(DeliveryError):
        export_mailing(D, "win_back", "run-1")
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "update journeyflow.contacts set postal_opt_out = true where contact_id = 'a1'"
        )
    monkeypatch.setenv(ENV, working)
    result = export_mailing(D, "win_back", "run-1")
    assert result["rows"] == 1 and result["rejected"] == 2
    assert (postal / FOLDER / f"{STEM}.csv").read_text().splitlines()[1].startswith("d1;")
    assert (postal / FOLDER / f"{STEM}.rejects.csv").read_text().splitlines()[1:] == [
        "a1;objected to postal advertising",
        "c1;postal_code not valid for DE (5 digits)",
    ]
    earlier_rows = table(
        db, f"select contact_id, status from journeyflow.outbox where run_date = '{earlier}'"
    )
    assert sorted(earlier_rows) == [("a1", "exported"), ("b1", "household")]  # as delivered


def test_the_rows_of_a_mailing_are_locked_while_it_is_built(postal, db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from journeyflow.postal import build

    with db.transaction() as conn:
        add_contact(conn, "a1")
        add_outbox(conn, "a1")
    check = build.check_addresses
    blocked = []

    def meanwhile(*args, **kwargs):  # e.g. a rerun of decide that no longer chooses a1
        with pytest.raises(OperationalError, match="lock"), db.transaction() as conn:
            conn.exec_driver_sql("set local lock_timeout = '200ms'")
            conn.exec_driver_sql(
                "update journeyflow.outbox set status = 'cancelled' where contact_id = 'a1'"
            )
        blocked.append(True)
        return check(*args, **kwargs)

    monkeypatch.setattr(build, "check_addresses", meanwhile)
    assert export_mailing(D, "win_back", "run-1")["rows"] == 1 and blocked


def test_database_errors_do_not_carry_the_mailing(postal, db):
    seed(db)
    with db.transaction() as conn:
        conn.exec_driver_sql(
            "create function journeyflow.fail() returns trigger language plpgsql as"
            " $$ begin raise exception 'disk full'; end $$"
        )
        conn.exec_driver_sql(
            "create trigger fail before insert on journeyflow.postal_exports"
            " for each row execute function journeyflow.fail()"
        )
    try:
        with pytest.raises(Exception, match="disk full") as err:
            export_mailing(D, "win_back", "run-1")
        assert "Mustermann" not in str(err.value) and "Hauptstra" not in str(err.value)
    finally:
        with db.transaction() as conn:
            conn.exec_driver_sql("drop trigger fail on journeyflow.postal_exports")
            conn.exec_driver_sql("drop function journeyflow.fail()")
    assert table(db, "select count(*) from journeyflow.send_log") == [(0,)]
