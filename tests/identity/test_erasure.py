"""Forgetting a person (GDPR Art. 17) and handing them their data (Art. 15).

A night with two people to forget: P got a campaign email (an ``.eml`` in the local outbox),
has an anonymous visitor linked to them, quarantined records and events whose properties name
them; Q got a letter in a delivered mailing (the local drop) next to R's. After ``journeyflow
forget`` a dump of the whole warehouse and every file under ``$JOURNEYFLOW_HOME`` hold none of
their values, the counts of the night are what they were, and the source sending them again
stores and mails nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from journeyflow import erasure, lifecycle
from journeyflow.cli import main
from journeyflow.postal.export import export_mailing
from tests.campaign_world import run_day
from tests.identity.conftest import night
from tests.world import DAY, D, T, World, customer

P = {"first_name": "Zenobia", "last_name": "Quastenbrecht", "street": "Erlkönigweg",
     "house_number": "17", "email": "Zenobia.Quastenbrecht@example.org", "postal_code": "01067",
     "city": "Dresden", "salutation": "Frau"}  # fmt: skip
Q = {"first_name": "Ottokar", "last_name": "Wendelgrütz", "street": "Pfauenkehre",
     "house_number": "3", "email": "ottokar at wendelgruetz.example", "email_valid": False,
     "postal_code": "10115", "city": "Berlin", "salutation": "Herr"}  # fmt: skip
R = {"first_name": "Rosa", "last_name": "Nebelhorn", "street": "Lindenallee",
     "house_number": "8", "email": None, "postal_code": "04109", "city": "Leipzig"}  # fmt: skip


def spellings(person: dict) -> list[bytes]:
    """What must be gone: the email address, the name (whole and each part), the street."""
    values = [person["email"], person["first_name"], person["last_name"], person["street"],
              f"{person['first_name']} {person['last_name']}"]  # fmt: skip
    return [v.encode() for v in values]


def pg_dump(url) -> bytes:
    from pgserver._commands import POSTGRES_BIN_PATH

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        [str(Path(POSTGRES_BIN_PATH) / "pg_dump"), "--dbname", dsn, "--no-owner"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def found_in(blobs: dict[str, bytes], person: dict) -> list[tuple[str, bytes]]:
    return [(name, v) for name, data in blobs.items() for v in spellings(person) if v in data]


def counts(db) -> dict:
    queries = {
        "phases": f"select phase, contacts from journeyflow.v_phase_counts where run_date = '{D}'",
        "funnel": f"select stage, people from journeyflow.v_funnel where run_date = '{D}'",
        "decisions": "select campaign, channel, decision, count(*) from "
        f"journeyflow.v_campaign_decisions where run_date = '{D}' group by 1, 2, 3",
        "cohorts": f"select * from journeyflow.report_cohorts where run_date = '{D}'",
        "events": "select type, count(*), sum(amount) from journeyflow.events group by 1",
        "anonymous": "select count(*) from journeyflow.anonymous_events",
        "contacts": "select count(*) from journeyflow.contacts",
        "outbox": "select campaign, channel, status, count(*) from journeyflow.outbox "
        "group by 1, 2, 3",
    }
    with db.transaction() as conn:
        return {k: sorted(map(tuple, conn.exec_driver_sql(q).all())) for k, q in queries.items()}


@pytest.fixture
def night_with_p_and_q(db, home):
    """D: P gets a tripwire email, Q and R a win-back letter (delivered to the local drop)."""
    world = World(db)
    people = {
        "P": world.subscriber(T - 20 * DAY, **P),
        "Q": customer(world, T - 700 * DAY, T - 400 * DAY, **Q),
        "R": customer(world, T - 700 * DAY, T - 400 * DAY, **R),
        "O": world.subscriber(T - 20 * DAY, first_name="Olga", email="olga@example.org"),
    }
    pid = people["P"]
    world.event(pid, "newsletter_signup", T - 21 * DAY)
    with db.transaction() as conn:
        conn.execute(
            text(
                "update journeyflow.events set properties = cast(:p as jsonb) "
                "where contact_id = :c and type = 'newsletter_signup'"
            ),
            {"c": pid, "p": json.dumps({"form": {"email": P["email"], "name": "Zenobia"}})},
        )
        conn.execute(
            text(
                "insert into journeyflow.anonymous_events (event_id, anonymous_id, type,"
                " occurred_at, properties, run_date)"
                " values ('VZ1', 'AZ1', 'page_view', :t, cast(:p as jsonb), :d)"
            ),
            {"t": T - 30 * DAY, "d": D, "p": json.dumps({"path": f"/?mail={P['email']}"})},
        )
        conn.execute(
            text(
                "insert into journeyflow.identities (anonymous_id, contact_id, identified_at,"
                " event_id, run_date) values ('AZ1', :c, :t, 'IZ1', :d)"
            ),
            {"c": pid, "t": T - 25 * DAY, "d": D},
        )
        from journeyflow.ingest.quarantine import quarantine

        quarantine(
            conn,
            "contacts",
            D,
            [(pid, "updated_at: unparseable timestamp", {"id": pid, **P, "updated_at": "gestern"})],
        )
    run_day(world, D)
    lifecycle.report(D)
    export_mailing(D, "win_back", "scheduled__2026-11-20")
    data_docs = home / "data_docs" / str(D)
    data_docs.mkdir(parents=True)
    (data_docs / "validation.html").write_text(
        f"<td>unexpected values: {Q['email']}, broken@</td>", encoding="utf-8"
    )
    return people


def test_forget_leaves_no_personal_value_in_the_warehouse_or_the_files(
    db, warehouse_url, home, night_with_p_and_q, capsys
):
    people = night_with_p_and_q
    before_dump, before_files = {"db": pg_dump(warehouse_url)}, files_under(home)
    for person in (P, Q):  # the test would prove nothing if they were not there before
        assert found_in(before_dump, person) and found_in(before_files, person)
    assert any(name.endswith(".eml") for name, _ in found_in(before_files, P))
    assert any("mailing_win_back" in name for name, _ in found_in(before_files, Q))
    before = counts(db)

    assert main(["forget", people["P"], "--yes"]) == 0
    assert main(["forget", people["Q"], "--yes"]) == 0
    out = capsys.readouterr().out
    assert "is forgotten: its rows now carry erased-" in out

    dump = {"db": pg_dump(warehouse_url)}
    files = files_under(home)
    for person in (P, Q):
        assert found_in(dump, person) == []
        assert found_in(files, person) == []
    assert counts(db) == before  # every count of the night is what it was
    with db.transaction() as conn:
        for cid in (people["P"], people["Q"]):
            for table in ("contacts", "events", "outbox", "campaign_decisions", "contact_facts",
                          "phase_history", "identities", "postal_rejects"):  # fmt: skip
                assert not conn.execute(
                    text(f"select count(*) from journeyflow.{table} where contact_id = :c"),
                    {"c": cid},
                ).scalar(), table
        assert conn.exec_driver_sql("select count(*) from journeyflow.erasures").scalar() == 2
    # R's letter stays; the mailing set still checks out (manifest and .done describe the files)
    folder = home / "postal" / "win_back" / str(D)
    stem = f"mailing_win_back_{D}"
    mailing = (folder / f"{stem}.csv").read_bytes()
    manifest = json.loads((folder / f"{stem}.manifest.json").read_bytes())
    assert R["last_name"].encode() in mailing and manifest["row_count"] == 1
    assert manifest["sha256"] == hashlib.sha256(mailing).hexdigest()
    for line in (folder / f"{stem}.done").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    # a second forget of the same person says so and changes nothing
    assert main(["forget", people["P"], "--yes"]) == 0
    assert "was forgotten before" in capsys.readouterr().out


def test_a_reimport_of_a_forgotten_person_is_not_stored_and_the_rest_of_the_run_is(
    db, home, source, night_with_p_and_q
):
    people = night_with_p_and_q
    erasure.forget([people["P"], people["Q"]], requested_by="test")

    def record(cid: str, person: dict, created: str = "2026-01-05T10:00:00Z") -> dict:
        return {"id": cid, **{k: v for k, v in person.items() if k != "email_valid"},
                "country": "DE", "email_consent": {"status": "none"}, "created_at": created,
                "updated_at": "2026-11-21T08:00:00Z"}  # fmt: skip

    source(
        [record(people["P"], P), record("NEWQ", {**Q, "email": "Ottokar at WENDELGRUETZ.example"}),
         {**record("N1", {"first_name": "Nina", "email": "nina@example.org"},
                  "2026-11-21T07:00:00Z"),
          "email_consent": {"status": "confirmed", "confirmed_at": "2026-11-21T07:30:00Z"}}],
        [{"id": "EZ9", "contact_id": people["P"], "type": "page_view",
          "occurred_at": "2026-11-21T09:00:00Z", "properties": {"email": P["email"]}},
         {"id": "EN1", "contact_id": "N1", "type": "page_view",
          "occurred_at": "2026-11-21T09:30:00Z"}],
    )  # fmt: skip
    day = D + DAY
    night(day, gate=False)
    with db.transaction() as conn:
        kept = conn.exec_driver_sql(
            "select stream, count(*) from journeyflow.quarantine where reason = "
            f"'{erasure.AGAIN}' group by 1 order by 1"
        ).all()
        ids = {c for (c,) in conn.exec_driver_sql("select contact_id from journeyflow.contacts")}
    assert kept == [("contacts", 2), ("events", 1)]
    assert "N1" in ids and people["P"] not in ids and "NEWQ" not in ids
    from journeyflow import campaigns

    campaigns.decide(day)
    with db.transaction() as conn:
        decided = dict(conn.exec_driver_sql(
            f"select contact_id, decision from journeyflow.v_campaign_decisions "
            f"where run_date = '{day}' and contact_id in ('N1', '{people['P']}', 'NEWQ')"
        ).all())  # fmt: skip
    assert decided == {"N1": "queued"}  # N1's welcome goes out as ever; P and Q get nothing
    dump = {"files": b"".join(files_under(home).values())}
    assert found_in(dump, P) == [] and found_in(dump, Q) == []


def test_an_erasure_request_from_the_source_forgets_within_the_run(db, home, source):
    source(
        [{"id": "C1", "email": "wilhelmine.zarg@example.org", "last_name": "Zarg",
          "street": "Kranichsteig", "created_at": "2026-10-01T08:00:00Z",
          "updated_at": "2026-10-01T08:00:00Z"},
         {"id": "C2", "email": "c2@example.org", "created_at": "2026-10-01T08:00:00Z",
          "updated_at": "2026-10-01T08:00:00Z"}],
        [{"id": "E1", "contact_id": "C1", "type": "purchase", "occurred_at":
          "2026-10-02T08:00:00Z", "properties": {"order_id": "O1", "amount": 30,
                                                 "currency": "EUR", "product": "Stativ"}},
         {"id": "E2", "contact_id": "C1", "type": "erasure_request",
          "occurred_at": "2026-11-19T08:00:00Z"}],
    )  # fmt: skip
    night(D, gate=False)
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select contact_id, email, last_name, street, erased_at is not null "
            "from journeyflow.contacts order by erased_at nulls first"
        ).all()
        step = conn.exec_driver_sql(
            f"select details from journeyflow.pipeline_steps where run_date = '{D}' "
            "and step = 'merge'"
        ).scalar()
        customers = conn.exec_driver_sql(
            f"select people from journeyflow.v_funnel where run_date = '{D}' and stage = 'customer'"
        ).scalar()
    assert rows[0] == ("C2", "c2@example.org", None, None, False)
    assert rows[1][0].startswith("erased-") and rows[1][1:] == (None, None, None, True)
    assert step["erased"] == 1
    assert customers == 1  # the forgotten customer still counts, under the pseudonym


def test_export_data_writes_everything_held_about_a_person(
    db, home, night_with_p_and_q, tmp_path, capsys
):
    pid = night_with_p_and_q["P"]
    out = tmp_path / "p.json"
    assert main(["export-data", pid, "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    assert data["contact"]["email"] == P["email"] and data["contact"]["street"] == P["street"]
    assert {e["type"] for e in data["events"]} == {"newsletter_signup"}
    assert data["anonymous_ids"][0]["anonymous_id"] == "AZ1"
    assert data["anonymous_events"][0]["properties"] == {"path": f"/?mail={P['email']}"}
    assert [m["campaign"] for m in data["messages"]] == ["tripwire_offer"]
    assert P["email"] in data["messages"][0]["recipient"]
    assert data["messages"][0]["message"].startswith(("Content-Type", "MIME", "From", "Date"))
    assert data["quarantine"][0]["record"]["updated_at"] == "gestern"
    assert {d["campaign"] for d in data["campaign_decisions"]} >= {"tripwire_offer"}
    assert main(["forget", pid, "--yes"]) == 0
    assert main(["export-data", pid]) == 1
    assert "not in the warehouse" in capsys.readouterr().err


def test_the_keyed_hash_in_postgresql_is_hmac_sha256(db):
    key = erasure.ErasureKey(b"a-test-key-of-some-length", "test")
    with db.transaction() as conn:
        hashed = conn.execute(
            text("select journeyflow.keyed_hash(:v, :ikey, :okey)"),
            {"v": "id:C1", **key.sql_params()},
        ).scalar()
    assert hashed == key.hash_id("C1")
    long_key = erasure.ErasureKey(b"x" * 100, "test")  # longer than a block: hashed first
    with db.transaction() as conn:
        hashed = conn.execute(
            text("select journeyflow.keyed_hash(:v, :ikey, :okey)"),
            {"v": "email:a@b.de", **long_key.sql_params()},
        ).scalar()
    assert hashed == long_key.hash_email(" A@B.de ")


def test_an_undelivered_mailing_is_built_again_without_them(db, home):
    from journeyflow.config import load_config
    from journeyflow.postal.build import build

    world = World(db)
    q = customer(world, T - 700 * DAY, T - 400 * DAY, **Q)
    customer(world, T - 700 * DAY, T - 400 * DAY, **R)
    run_day(world, D)
    postal = load_config().postal
    build(D, "win_back", "scheduled__2026-11-20", postal.profile, postal.action_code("win_back"))
    (done,) = erasure.forget([q], requested_by="test")
    assert done.mailings_rebuilt == [f"win_back {D}"]
    with db.transaction() as conn:
        assert not conn.exec_driver_sql("select count(*) from journeyflow.postal_exports").scalar()
        states = sorted(conn.exec_driver_sql(
            "select status, last_error from journeyflow.outbox where channel = 'postal'"
        ).all())  # fmt: skip
    assert states == [("cancelled", erasure.REASON), ("queued", None)]
    result = export_mailing(D, "win_back", "scheduled__2026-11-20")
    assert result["rows"] == 1
    files = files_under(home)
    assert found_in(files, Q) == [] and any(R["street"].encode() in b for b in files.values())


def test_another_erasure_key_is_refused_before_anything_changes(db, home, monkeypatch):
    world = World(db)
    first = world.contact(email="eins@example.org")
    second = world.contact(email="zwei@example.org")
    erasure.forget([first], requested_by="test")  # with the local key file
    monkeypatch.setenv("JOURNEYFLOW_ERASURE_KEY", "another-secret-of-enough-length")
    with pytest.raises(erasure.ErasureKeyError, match="restore that key"):
        erasure.forget([second], requested_by="test")
    with db.transaction() as conn:
        assert (
            conn.execute(
                text("select email from journeyflow.contacts where contact_id = :c"), {"c": second}
            ).scalar()
            == "zwei@example.org"
        )
    monkeypatch.setenv("JOURNEYFLOW_ERASURE_KEY", "short")
    with pytest.raises(erasure.ErasureKeyError, match="at least 16 characters"):
        erasure.forget([second], requested_by="test")
