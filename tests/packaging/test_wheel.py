"""The image's install step, outside Docker: ``docker/build.sh`` and ``docker/install.sh`` (the
commands the Dockerfile runs) into a fresh virtualenv outside the checkout. The installed
package finds its SQL, templates, config and DAG, its commands work against a real warehouse,
and Airflow imports the DAG and the plugin from there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from journeyflow.config import paths

REPO = paths.PROJECT_DIR


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to build the wheel; `make test` installs it")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """What the image holds: a virtualenv with the locked dependencies and the built wheel,
    the DAG file in a dags folder and the plugin in a plugins folder."""
    root = tmp_path_factory.mktemp("image")
    env = {**os.environ, "UV": uv()}
    for step in (
        ["sh", str(REPO / "docker" / "build.sh"), str(REPO), str(root / "dist")],
        ["sh", str(REPO / "docker" / "install.sh"), str(root / "dist"), str(root / "venv"),
         sys.executable],
    ):  # fmt: skip
        done = subprocess.run(step, cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (root / "dags").mkdir()
    (root / "plugins").mkdir()
    shutil.copy(REPO / "dags" / "journeyflow_nightly.py", root / "dags")
    shutil.copy(REPO / "plugins" / "journeyflow_ui.py", root / "plugins")
    return root


def clean_env(installed: Path, **extra: str) -> dict[str, str]:
    """Nothing of the checkout or of the test session: as in the image."""
    return {
        "PATH": f"{installed / 'venv' / 'bin'}:/usr/bin:/bin",
        "HOME": str(installed),
        "AIRFLOW_HOME": str(installed / "airflow"),
        "JOURNEYFLOW_HOME": str(installed / "home"),
        **extra,
    }


def run(installed: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*args], cwd=installed, env=clean_env(installed, **env), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def db_conn(url) -> str:
    return json.dumps({
        "conn_type": "postgres", "host": url.query["host"], "login": "postgres",
        "schema": url.database,
    })  # fmt: skip


def test_the_installed_package_carries_its_project_files(installed):
    code = "from journeyflow.config import paths; print(paths.PROJECT_DIR)"
    out = run(installed, str(installed / "venv" / "bin" / "python"), "-c", code)
    project = Path(out.stdout.strip())
    assert project.is_relative_to(installed / "venv"), out.stderr
    for part in ("sql/schema", "sql/phases", "email_templates/de", "dags", "plugins"):
        assert (project / part).is_dir(), part
    assert (project / "journeyflow.yaml").is_file()


def test_templates_check_runs_from_the_wheel(installed):
    done = run(installed, "journeyflow", "templates", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout


def test_phases_check_runs_from_the_wheel_against_a_warehouse(installed, warehouse_url, db):
    done = run(installed, "journeyflow", "phases", "check",
               AIRFLOW_CONN_JOURNEYFLOW_DB=db_conn(warehouse_url))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 phase files, 0 errors" in done.stdout


def test_airflow_imports_the_dag_and_the_plugin_from_the_image_install(installed):
    code = """
from airflow.dag_processing.dagbag import DagBag
from airflow import plugins_manager
bag = DagBag(dag_folder="dags")
assert not bag.import_errors, bag.import_errors
dag = bag.dags["journeyflow_nightly"]
print(len(dag.tasks), sorted(t for t in dag.task_ids if t.endswith(".send"))[0])
apps, middlewares = plugins_manager.get_fastapi_plugins()
print("plugin", [a["url_prefix"] for a in apps], len(middlewares))
from journeyflow.cockpit.app import environment
print("cockpit templates", len(environment().list_templates()))
"""
    done = run(
        installed, str(installed / "venv" / "bin" / "python"), "-c", code,
        AIRFLOW__CORE__DAGS_FOLDER=str(installed / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(installed / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (line,) = [ln for ln in done.stdout.splitlines() if re.fullmatch(r"\d+ \S+\.send", ln)]
    count, first_send = line.split()
    assert int(count) > 20 and first_send == "birthday.send"
    assert "plugin ['/journeyflow'] 1" in done.stdout
    assert "cockpit templates 10" in done.stdout  # the pages' templates travel in the wheel
