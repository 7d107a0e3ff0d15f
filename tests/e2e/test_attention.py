"""A run that worked but left something in doubt is no plain SUCCESS: it ends in a warning state,
the summary says what needs a person and the exact command, and the CLI exits 3. A run that
failed names its failed step and error."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

D = date(2026, 11, 20)


@pytest.fixture
def in_doubt(world, db):
    """A message of an earlier date a sender had handed to SMTP when it died."""
    with db.transaction() as conn:
        conn.execute(
            text(
                "insert into journeyflow.outbox (contact_id, campaign, step, occurrence, channel, "
                "run_date, status, message_id) values ('X1', 'upsell', 1, 1, 'email', "
                "'2026-11-10', 'in_doubt', '<upsell.1.1.x@lichtblick.example>')"
            )
        )


def test_messages_in_doubt_end_the_run_in_a_warning_with_the_next_step(
    in_doubt, airflow_db, capsys, monkeypatch, db
):
    from journeyflow import cli

    monkeypatch.setenv("JOURNEYFLOW_DEMO_CONTACTS", "200")
    code = cli.main(["run", "--date", str(D)])
    out = capsys.readouterr().out
    summary = out[out.index(f"journeyflow_nightly {D}: ") :]
    assert code == 3 and summary.startswith(f"journeyflow_nightly {D}: WARNING")
    assert "needs a person:" in summary
    assert "1 upsell message(s) of 2026-11-10 in doubt" in summary
    assert "journeyflow outbox --date 2026-11-10 --id N --resolve sent" in summary
    with db.transaction() as conn:
        status, message = conn.execute(
            text("select status, message from journeyflow.pipeline_runs where run_date = :d"),
            {"d": D},
        ).one()
    assert status == "warning" and "in doubt" in message


def test_a_failed_run_names_its_step_and_error():
    """What a task failure records (the step and the first line of its error) is the line the
    summary prints under FAILED."""
    from journeyflow.cli.format import format_summary

    summary = {
        "run_date": str(D), "steps": [], "quarantine": [], "gate": [], "phases": [],
        "campaigns": [], "attention": [],
        "totals": {"contacts": 0, "events": 0, "anonymous_events": 0, "linked_visitors": 0,
                   "quarantined": 0},
        "run": {"status": "failed",
                "message": "assign_phases failed: sql/phases/35_vip.sql: line 3: syntax error"},
    }  # fmt: skip
    shown = format_summary(summary, "failed", 12.0)
    assert f"journeyflow_nightly {D}: FAILED in 12.0s" in shown
    assert "failed: assign_phases failed: sql/phases/35_vip.sql: line 3: syntax error" in shown
