"""``journeyflow up``: Airflow's ``standalone`` on this project, and ``journeyflow stop``.

``up`` starts the embedded PostgreSQL (if it does not run yet) and ``airflow standalone`` in a
process group of its own, and records both in ``$JOURNEYFLOW_HOME/up.json``. Ctrl+C or
``journeyflow stop`` (``make stop``) ends the whole group (api-server, scheduler, dag-processor,
triggerer, task processes) and the database if ``up`` started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from journeyflow.config import home
from journeyflow.connections import MODE_ENV
from journeyflow.local import airflow_home, embedded

GRACE_SECONDS = 30.0


def state_file() -> Path:
    return home() / "up.json"


def up(port: int) -> int:
    """Run until Ctrl+C or ``journeyflow stop``; returns the exit code of the standalone."""
    os.environ[MODE_ENV] = "local"
    airflow = airflow_home.configure()
    os.environ.setdefault("AIRFLOW__API__PORT", str(port))
    os.environ.setdefault("AIRFLOW__API__BASE_URL", f"http://localhost:{port}")
    airflow_home.ensure_metadata_db()
    started_db = not embedded.running()
    embedded.start()
    bin_dir = os.path.dirname(sys.executable)  # standalone starts its parts as `airflow ...`
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    proc = subprocess.Popen(
        [os.path.join(bin_dir, "airflow"), "standalone"], start_new_session=True
    )
    state_file().write_text(json.dumps({"pgid": proc.pid, "stop_db": started_db}))
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` ends it as Ctrl+C does
    # ... and Ctrl+C (SIGINT) also when the shell that started us ignored it (`make up &`)
    signal.signal(signal.SIGINT, _interrupt)
    print(f"Airflow UI: http://localhost:{port}  (user admin)")
    print(f"password: see {airflow / 'simple_auth_manager_passwords.json.generated'}")
    print("stop with Ctrl+C or `make stop`", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _end_group(proc.pid, proc)
        return proc.wait()
    finally:
        state_file().unlink(missing_ok=True)
        if started_db:
            embedded.stop()


def stop() -> bool:
    """End what ``up`` started (also from another terminal); True when something ran."""
    path = state_file()
    if not path.exists():
        return embedded.stop()
    state = json.loads(path.read_text())
    if _is_standalone(state["pgid"]):  # not a stale file whose pid another program has now
        _end_group(state["pgid"])
    path.unlink(missing_ok=True)
    if state.get("stop_db"):
        embedded.stop()
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _is_standalone(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"standalone" in cmdline and b"airflow" in cmdline


def _end_group(pgid: int, leader: subprocess.Popen | None = None) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after the grace period. The
    group's ``leader``, when it is our child, is reaped as soon as it exits (a zombie still
    counts as a member of its group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
