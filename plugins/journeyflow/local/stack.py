"""A real Airflow deployment on this machine, for the tests and benchmarks: api-server,
scheduler and dag-processor (and Celery workers) as processes, metadata on PostgreSQL,
LocalExecutor or CeleryExecutor.

Every wait polls for the state it needs (health, the DAG parsed, a run's state) with a deadline;
nothing sleeps a fixed time. ``stop()`` ends every process group it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from journeyflow.config import DAGS_DIR, PROJECT_DIR

BIN = Path(sys.executable).parent
USERS = {"admin": "Admin", "viewer": "Viewer"}


def free_port() -> int:
    """A TCP port on localhost nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (requests.RequestException, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class AirflowStack:
    """Start with ``start()``, use ``api()`` and the run helpers, end with ``stop()``."""

    def __init__(self, home: Path, meta_url: str, env: dict[str, str], executor: str = "Local"):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.passwords = {user: f"pw-{user}-{os.getpid()}" for user in USERS}
        self.procs: list[subprocess.Popen] = []
        home.mkdir(parents=True, exist_ok=True)
        (home / "passwords.json").write_text(json.dumps(self.passwords))
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
            "AIRFLOW__CORE__EXECUTOR": f"{executor}Executor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Berlin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{r}" for u, r in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": f"jwt-{os.getpid()}-{time.time_ns()}",
            "AIRFLOW__API__SECRET_KEY": f"key-{os.getpid()}-{time.time_ns()}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            **env,
        }

    # -- processes -------------------------------------------------------------------------------
    def airflow(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done

    def spawn(self, *args: str, name: str | None = None) -> subprocess.Popen:
        log = open(self.home / f"{name or args[0]}.log", "ab")  # noqa: SIM115 (kept for the process)
        proc = subprocess.Popen(
            [str(BIN / "airflow"), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start(self, dag_id: str = "journeyflow_nightly", workers: tuple[str, ...] = ()) -> None:
        self.airflow("db", "migrate")
        self.spawn("api-server", "--port", str(self.port))
        self.spawn("scheduler")
        self.spawn("dag-processor")
        for name in workers:
            self.spawn("celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency",
                       "2", "--skip-serve-logs", name=f"worker-{name}")  # fmt: skip
        wait_for("the api-server", self.healthy, timeout=180)
        wait_for(f"the DAG {dag_id} to be parsed", lambda: self.dag(dag_id), timeout=180)

    def healthy(self) -> bool:
        for proc in self.procs:
            assert proc.poll() is None, f"an Airflow process exited: see {self.home}/*.log"
        r = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
        return r.status_code == 200 and r.json()["scheduler"]["status"] == "healthy"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in self.home.glob("*.log"))

    # -- REST API --------------------------------------------------------------------------------
    def token(self, user: str = "admin") -> str:
        r = requests.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text
        return r.json()["access_token"]

    def api(self, method: str, path: str, user: str = "admin", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        r = requests.request(method, f"{self.url}/api/v2{path}", headers=headers, timeout=30,
                             **kwargs)  # fmt: skip
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def dag(self, dag_id: str) -> dict | None:
        r = requests.get(
            f"{self.url}/api/v2/dags/{dag_id}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
        )
        return r.json() if r.status_code == 200 else None

    def unpause(self, dag_id: str = "journeyflow_nightly") -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, logical_date: datetime, dag_id: str = "journeyflow_nightly") -> str:
        run = self.api(
            "POST", f"/dags/{dag_id}/dagRuns",
            json={"logical_date": logical_date.isoformat(), "conf": {}},
        )  # fmt: skip
        return run["dag_run_id"]

    def runs(self, dag_id: str = "journeyflow_nightly") -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def run_state(self, run_id: str, dag_id: str = "journeyflow_nightly") -> str:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> str:
        def finished() -> str | None:
            state = self.run_state(run_id)
            return state if state in ("success", "failed") else None

        return wait_for(f"run {run_id} to finish", finished, timeout=timeout, every=2)

    def task_instances(self, run_id: str, dag_id: str = "journeyflow_nightly") -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.api("GET", path, params={"limit": 200})["task_instances"]

    def clear(
        self, run_id: str, dag_id: str = "journeyflow_nightly", from_task: str | None = None
    ) -> None:
        """Clear the whole run, or ``from_task`` and everything downstream of it."""
        if from_task is None:
            self.api("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})
            return
        self.api("POST", f"/dags/{dag_id}/clearTaskInstances", json={
            "dry_run": False, "dag_run_id": run_id, "task_ids": [from_task],
            "include_downstream": True, "only_failed": False, "reset_dag_runs": True,
        })  # fmt: skip
