"""One triage list: the DAG's documentation shows it, and an alert quotes its matching line."""

from __future__ import annotations

import pytest

from journeyflow import triage


@pytest.mark.parametrize(
    ("task", "error", "starts"),
    [
        ("extract_contacts", "HTTP 401 from the source: unauthorized", "the bearer token"),
        ("extract_events", "source unreachable after 5 retries", "the source is down"),
        ("quality_gate_failed", "contacts_email_syntax: 57 rows", "a critical data quality"),
        ("upsell.send", "SMTP 127.0.0.1:25 unreachable", "the mail server (`journeyflow_smtp`)"),
        ("win_back.export_postal", "postal win_back: 10 pieces, below the minimum of 200",
         "the mailing went out with fewer pieces"),
        ("win_back.export_postal", "drop unreachable", "the mailing is built and recorded"),
        ("merge", "another run is working on 2026-11-20", "a second run"),
        ("merge", "something nobody foresaw", "look at the failed task's log"),
    ],
)  # fmt: skip
def test_an_error_finds_its_next_step(task, error, starts):
    assert triage.next_step(task, error).startswith(starts)


def test_the_dag_documents_every_entry():
    from journeyflow.local import airflow_home

    dag = airflow_home.load_dag()
    for entry in triage.ENTRIES:
        assert f"- **{entry.title}**: {entry.next_step}" in dag.doc_md
