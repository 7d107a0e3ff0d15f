"""``make demo`` on a new machine: ``journeyflow demo`` with an empty ``$JOURNEYFLOW_HOME`` starts
its own embedded PostgreSQL and Airflow metadata DB, creates the schema and runs the night to
success."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_demo_on_an_empty_home_creates_everything_and_succeeds():
    home = Path(tempfile.mkdtemp(prefix="jf-fresh-"))  # like the session home: pgserver can use it
    # nothing of this test session's Airflow (its metadata DB) nor its connections
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(JOURNEYFLOW_HOME=str(home))
    env.pop("JOURNEYFLOW_MODE")  # the demo asks for local mode itself
    try:
        demo = subprocess.run(
            [str(Path(sys.executable).parent / "journeyflow"), "demo", "--contacts", "300"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert ": SUCCESS in " in demo.stdout
        assert "LOCAL MODE (demo)" in demo.stdout
        assert list((home / "outbox").rglob("*.eml")), "the demo's emails are in the outbox"
        assert not (home / "pgdata" / "postmaster.pid").exists(), "the demo stops its database"
    finally:
        subprocess.run(
            [str(Path(sys.executable).parent / "journeyflow"), "stop-db"],
            env=env, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)
