"""Fixtures of the ingest tests: ``journeyflow_source`` pointing at a local HTTP server."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def http_source(httpserver, monkeypatch, tmp_path):
    """Point ``journeyflow_source`` at the local HTTP server, with pages of 2 and fast retries."""
    from journeyflow import config as settings

    cfg = tmp_path / "journeyflow.yaml"
    cfg.write_text("source: {page_size: 2, backoff_base: 0.01, backoff_max: 0.05}\n")
    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(cfg))
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_SOURCE",
        json.dumps({"conn_type": "http", "host": httpserver.url_for(""), "password": "tok"}),
    )
    settings.load_config.cache_clear()
    yield httpserver
    settings.load_config.cache_clear()
