"""The built wheel is complete: installed into a fresh virtualenv outside the checkout, it finds
its SQL, templates, config and DAG, and its commands work against a real warehouse."""

from __future__ import annotations

import json
import os
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
    """A virtualenv outside the checkout with the locked dependencies and the built wheel."""
    root = tmp_path_factory.mktemp("wheel")

    def run(*args: str) -> None:
        done = subprocess.run([uv(), *args], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    run("build", "--wheel", "--out-dir", str(root / "dist"))
    run("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
        "--output-file", str(root / "requirements.txt"))  # fmt: skip
    run("venv", "--python", sys.executable, str(root / "venv"))
    python = str(root / "venv" / "bin" / "python")
    run("pip", "install", "--python", python, "-r", str(root / "requirements.txt"))
    (wheel,) = (root / "dist").glob("journeyflow-*.whl")
    run("pip", "install", "--python", python, "--no-deps", str(wheel))
    return root


def journeyflow(installed: Path, *args: str, db_url=None) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{installed / 'venv' / 'bin'}:/usr/bin:/bin",
        "HOME": str(installed),
        "AIRFLOW_HOME": str(installed / "airflow"),
        "JOURNEYFLOW_HOME": str(installed / "home"),
    }
    if db_url is not None:
        env["AIRFLOW_CONN_JOURNEYFLOW_DB"] = json.dumps({
            "conn_type": "postgres", "host": db_url.query["host"], "login": "postgres",
            "schema": db_url.database,
        })  # fmt: skip
    return subprocess.run(
        [str(installed / "venv" / "bin" / "journeyflow"), *args],
        cwd=installed,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_installed_package_carries_its_project_files(installed):
    python = installed / "venv" / "bin" / "python"
    code = "from journeyflow.config import paths; print(paths.PROJECT_DIR)"
    out = subprocess.run([python, "-c", code], cwd=installed, capture_output=True, text=True)
    project = Path(out.stdout.strip())
    assert project.is_relative_to(installed / "venv"), out.stderr
    for part in ("sql/schema", "sql/phases", "email_templates/de", "dags"):
        assert (project / part).is_dir(), part
    assert (project / "journeyflow.yaml").is_file()


def test_templates_check_runs_from_the_wheel(installed):
    done = journeyflow(installed, "templates", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout


def test_phases_check_runs_from_the_wheel_against_a_warehouse(installed, warehouse_url, db):
    done = journeyflow(installed, "phases", "check", db_url=warehouse_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 phase files, 0 errors" in done.stdout
