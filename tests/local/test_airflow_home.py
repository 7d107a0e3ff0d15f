"""Each test process has an Airflow metadata DB of its own."""

from __future__ import annotations

import os

from journeyflow.config import home


def test_the_metadata_db_is_under_this_processs_home():
    """Under pytest-xdist a worker inherits the controller's environment; a shared metadata DB
    lets ``dag.test()`` in one worker replace the run of the same date another worker runs."""
    db = home() / "airflow" / "airflow.db"
    assert os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{db}"
    assert os.environ["AIRFLOW_HOME"] == str(db.parent)
