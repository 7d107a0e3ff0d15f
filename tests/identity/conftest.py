"""Fixtures of the identity tests: a source on a local HTTP server, the rest of the config as
every test has it."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def source(httpserver, monkeypatch):
    """``journeyflow_source`` at the local HTTP server; ``serve(contacts, events)`` answers the
    next pulls with these records (one page each)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_SOURCE",
        json.dumps({"conn_type": "http", "host": httpserver.url_for(""), "password": "tok"}),
    )

    def serve(contacts: list[dict], events: list[dict]) -> None:
        httpserver.clear()
        for path, data in (("/contacts", contacts), ("/events", events)):
            httpserver.expect_request(path).respond_with_json({"data": data, "next_cursor": None})

    return serve


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A $JOURNEYFLOW_HOME of this test's own (the warehouse stays the session's)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("JOURNEYFLOW_HOME", str(folder))
    monkeypatch.delenv("AIRFLOW_CONN_JOURNEYFLOW_POSTAL_DROP", raising=False)
    return folder


def night(day, *, gate: bool = True) -> None:
    """Extract, load, (the gate,) merge, score and report of one run date."""
    from journeyflow import ingest, lifecycle
    from journeyflow.quality.gate import validate

    ingest.extract("contacts", day)
    ingest.extract("events", day)
    ingest.load(day)
    if gate:
        assert validate(day).passed
    ingest.merge(day)
    lifecycle.score(day)
    lifecycle.assign_phases(day)
    lifecycle.report(day)
