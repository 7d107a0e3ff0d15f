"""Where journeyflow finds its project files and keeps its local state.

Project files (``sql/``, ``email_templates/``, ``dags/``, ``journeyflow.yaml``) come from, in
this order: the folder ``$JOURNEYFLOW_PROJECT``; the source checkout the package sits in
(``<repo>/plugins/journeyflow``); the copy packed into the installed wheel
(``journeyflow/project/``). Local state (embedded database, Airflow metadata, outbox, postal
drop) lives in ``$JOURNEYFLOW_HOME``, default ``<project>/.journeyflow``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


PACKED_DIR = PACKAGE_DIR / "project"  # the copy inside an installed wheel


def _project_dir() -> Path:
    configured = os.environ.get("JOURNEYFLOW_PROJECT")
    if configured:
        return Path(configured).resolve()
    checkout = PACKAGE_DIR.parents[1]  # <checkout>/plugins/journeyflow
    if (checkout / "sql" / "schema").is_dir() and (checkout / "journeyflow.yaml").is_file():
        return checkout
    return PACKED_DIR


PROJECT_DIR = _project_dir()
SQL_DIR = PROJECT_DIR / "sql"
TEMPLATES_DIR = PROJECT_DIR / "email_templates"
DAGS_DIR = PROJECT_DIR / "dags"


def config_path() -> Path:
    """The rulebook and settings file: ``$JOURNEYFLOW_CONFIG`` or ``<project>/journeyflow.yaml``."""
    return Path(os.environ.get("JOURNEYFLOW_CONFIG") or PROJECT_DIR / "journeyflow.yaml")


def missing_project() -> str | None:
    """Why the project files cannot be found (a package copied without them), or None."""
    if (SQL_DIR / "schema").is_dir():
        return None
    return (
        f"the project files of journeyflow (sql/, email_templates/, journeyflow.yaml) are not in "
        f"{PROJECT_DIR}: install the built wheel (it carries them), or set JOURNEYFLOW_PROJECT "
        "to a folder that has them (a checkout of the repository)"
    )


def home() -> Path:
    """The folder for local state: ``$JOURNEYFLOW_HOME``, else ``.journeyflow`` in the project
    folder (or in the home folder for an installed wheel, the same for every process)."""
    default = PROJECT_DIR if PROJECT_DIR != PACKED_DIR else Path.home()
    path = Path(os.environ.get("JOURNEYFLOW_HOME") or default / ".journeyflow").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_dir() -> Path:
    """A private runtime folder (``XDG_RUNTIME_DIR``) for lock files, unless one is set."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = home() / "run"
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)
    return Path(os.environ["XDG_RUNTIME_DIR"])
