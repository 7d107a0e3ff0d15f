"""The quality gate on embedded PostgreSQL: each check catches its planted defect."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from journeyflow import config as settings
from journeyflow.quality import gate
from journeyflow.quality.checks import CHECKS

D = date(2026, 11, 20)  # cut-off T = 2026-11-21 00:00 Europe/Berlin


def contact(i: int, **change) -> dict:
    row = {
        "contact_id": f"C{i}", "email": f"kunde{i}@example.de", "consent_status": "confirmed",
        "consent_confirmed_at": "2026-01-01T10:00:00Z", "country": "DE", "postal_code": "01067",
        "created_at": "2026-01-01T09:00:00Z", "updated_at": "2026-01-01T09:00:00Z",
    }  # fmt: skip
    return {**row, **change}


def event(i: int, **change) -> dict:
    row = {"event_id": f"E{i}", "contact_id": f"C{i % 50}", "type": "page_view",
           "occurred_at": "2026-11-20T12:00:00+01:00", "properties": "{}"}  # fmt: skip
    return {**row, **change}


def stage(db, contacts: list[dict], events: list[dict]) -> None:
    with db.transaction() as conn:
        conn.exec_driver_sql("truncate journeyflow_staging.contacts, journeyflow_staging.events")
        for table, rows in (("contacts", contacts), ("events", events)):
            for row in rows:
                cols = ", ".join(row)
                marks = ", ".join(f"%({c})s" for c in row)
                conn.exec_driver_sql(
                    f"insert into journeyflow_staging.{table} ({cols}) values ({marks})", row
                )


@pytest.fixture
def strict(tmp_path, monkeypatch):
    """Every row check at min_valid 1.0: one bad row is enough to fail its check."""
    raw = yaml.safe_load(settings.config_path().read_text())
    raw["quality"]["checks"] = {
        c.name: {"min_valid": 1.0} for c in CHECKS if c.min_valid is not None
    }
    path = tmp_path / "journeyflow.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(path))
    settings.load_config.cache_clear()
    yield
    settings.load_config.cache_clear()


@pytest.fixture(autouse=True)
def fresh_config():
    settings.load_config.cache_clear()
    yield
    settings.load_config.cache_clear()


def history(db, contacts: int, events: int, runs: int = 3) -> None:
    with db.transaction() as conn:
        for n in range(1, runs + 1):
            for step, rows in (("extract_contacts", contacts), ("extract_events", events)):
                conn.exec_driver_sql(
                    "insert into journeyflow.pipeline_steps (run_date, step, rows_out) "
                    f"values (date '{D}' - {n}, '{step}', {rows})"
                )


GOOD_CONTACTS = [contact(i) for i in range(50)]
GOOD_EVENTS = [event(i) for i in range(100)]


def test_a_clean_batch_passes_every_check(db):
    stage(db, GOOD_CONTACTS, GOOD_EVENTS)
    verdict = gate.validate(D)
    assert verdict.passed and not verdict.warnings
    assert {f.check for f in verdict.findings} >= {
        c.name for c in CHECKS if not c.name.endswith(("_volume", "_not_empty"))
    }
    assert verdict.docs.exists() and "staged_contacts" in verdict.docs.read_text()
    with db.transaction() as conn:
        rows = conn.exec_driver_sql(
            f"select count(*) from journeyflow.validation_results where run_date = '{D}'"
        ).scalar()
    assert rows == len(verdict.findings)


PLANTED = {
    "contacts_id_present": ([contact(900, contact_id=None)], []),
    "contacts_id_unique": ([contact(1)], []),
    "contacts_email_syntax": ([contact(901, email="jonas at example.de")], []),
    "contacts_consent_status": ([contact(902, consent_status="yes please")], []),
    "contacts_consent_proof": ([contact(903, consent_confirmed_at=None)], []),
    "contacts_country_iso": ([contact(904, country="Deutschland")], []),
    "contacts_postal_code_de": ([contact(905, postal_code="1067")], []),
    "contacts_postal_code_at": ([contact(906, country="AT", postal_code="10101")], []),
    "contacts_postal_code_ch": ([contact(907, country="CH", postal_code="CH-8001")], []),
    "events_id_present": ([], [event(900, event_id=None)]),
    "events_id_unique": ([], [event(1)]),
    "events_type_known": ([], [event(901, type="pageview")]),
    "events_not_after_cutoff": ([], [event(902, occurred_at="2026-11-23T00:00:00Z")]),
    "events_not_absurdly_old": ([], [event(903, occurred_at="1970-01-01T00:00:00Z")]),
    "events_purchase_amount": ([], [event(904, type="purchase", properties='{"currency":"EUR"}')]),
    "events_purchase_amount_positive": (
        [],
        [event(905, type="purchase", properties='{"amount": -5, "currency": "EUR"}')],
    ),
    "events_purchase_currency": ([], [event(906, type="purchase", properties='{"amount": 5}')]),
    "events_review_rating": ([], [event(907, type="review", properties='{"rating": 6}')]),
    "events_contact_known": ([], [event(908, contact_id="C-nobody")]),
}


def test_each_check_catches_its_planted_defect(db, strict):
    contacts = GOOD_CONTACTS + [c for cs, _ in PLANTED.values() for c in cs]
    events = GOOD_EVENTS + [e for _, es in PLANTED.values() for e in es]
    stage(db, contacts, events)
    verdict = gate.validate(D)
    by_check = {f.check: f for f in verdict.findings}
    for name in PLANTED:
        finding = by_check[name]
        expected = "failed" if finding.severity == "critical" else "warning"
        assert finding.verdict == expected, (name, finding)
        if finding.unexpected_count is not None:
            assert finding.unexpected_count >= 1, name
    assert not verdict.passed
    message = verdict.message()
    assert (
        "contacts_email_syntax (expect_column_values_to_match_regex on contacts.email): 1 of"
        in (message)
    )


def test_one_broken_email_among_many_is_flagged_not_fatal(db):
    stage(db, GOOD_CONTACTS + [contact(999, email="broken@")], GOOD_EVENTS)
    verdict = gate.validate(D)
    assert verdict.passed
    email = next(f for f in verdict.findings if f.check == "contacts_email_syntax")
    assert email.verdict == "passed" and email.unexpected_count == 1


def test_volume_checks_compare_with_the_last_runs(db, tmp_path, monkeypatch):
    raw = yaml.safe_load(settings.config_path().read_text())
    raw["quality"]["volume_min_rows"] = 10
    (tmp_path / "journeyflow.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(tmp_path / "journeyflow.yaml"))
    settings.load_config.cache_clear()
    history(db, contacts=4, events=9)  # a batch of 50 contacts is more than 10x the median 4
    stage(db, GOOD_CONTACTS, [])
    verdict = gate.validate(D)
    by_check = {f.check: f for f in verdict.findings}
    assert by_check["contacts_volume"].verdict == "failed"
    assert by_check["events_volume"].verdict == "passed"
    assert by_check["events_not_empty"].verdict == "warning"  # data was expected
    assert "contacts_volume (expect_table_row_count_to_be_between on contacts): observed 50" in (
        verdict.message()
    )


def test_gx_that_cannot_reach_the_database_fails_loudly(db, monkeypatch):
    stage(db, GOOD_CONTACTS, GOOD_EVENTS)
    monkeypatch.setattr(
        gate, "gx_connection_string", lambda url: "postgresql+psycopg2://nobody@127.0.0.1:9/x"
    )
    with pytest.raises(gate.GateError, match="could not validate"):
        gate.validate(D)
    with db.transaction() as conn:
        assert not conn.exec_driver_sql(
            "select count(*) from journeyflow.validation_results where verdict = 'passed'"
        ).scalar()


def test_unknown_check_in_config_is_named():
    with pytest.raises(settings.ConfigError, match="quality.checks.contacts_emial_syntax"):
        settings.parse_config({"quality": {"checks": {"contacts_emial_syntax": {}}}})
