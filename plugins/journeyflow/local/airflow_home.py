"""Run Airflow locally against ``$JOURNEYFLOW_HOME``: metadata DB, dags and plugins folders.

Call ``configure()`` before anything imports airflow; it only fills variables that are unset,
so a real deployment's settings win.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from journeyflow.config import DAGS_DIR, PROJECT_DIR, home, load_config, runtime_dir


def configure(quiet: bool = False) -> Path:
    """Point Airflow at this repository and a metadata DB under ``$JOURNEYFLOW_HOME/airflow``.

    Task logs are at INFO (what each task did); ``quiet`` keeps a terminal run of ``dag.test()``
    to warnings, since the CLI prints the summary itself."""
    airflow_home = home() / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": load_config().timezone,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING" if quiet else "INFO",
        "JOURNEYFLOW_HOME": str(home()),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Airflow reads .airflowignore with a pattern class its pathspec version deprecates
    warnings.filterwarnings("ignore", message="GitWildMatchPattern", category=DeprecationWarning)
    runtime_dir()
    return airflow_home


def ensure_metadata_db() -> None:
    """Create or upgrade Airflow's metadata DB once per Airflow version (a few seconds)."""
    import importlib.metadata

    airflow_home = configure()
    stamp = airflow_home / ".db-migrated"
    version = importlib.metadata.version("apache-airflow-core")
    if stamp.exists() and stamp.read_text() == version:
        return
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"airflow db migrate failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    stamp.write_text(version)


def load_dag(dag_id: str = "journeyflow_nightly"):
    """Import the DAG from the dags folder (after ``configure()``)."""
    import importlib.util

    path = DAGS_DIR / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(dag_id, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag
