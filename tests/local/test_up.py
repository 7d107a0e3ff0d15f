"""``journeyflow up`` (make up) starts Airflow standalone and the embedded PostgreSQL, and stops
every process it started: with ``journeyflow stop`` (make stop) and with Ctrl+C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from journeyflow.local.stack import free_port, wait_for

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def postgres_running(home: Path) -> bool:
    pid_file = home / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_up(home: Path) -> tuple[subprocess.Popen, int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JOURNEYFLOW"))}
    env |= {"JOURNEYFLOW_HOME": str(home), "JOURNEYFLOW_MODE": "local"}
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "journeyflow"), "up", "--port", str(port)], env=env,
        stdout=open(home / "up.out", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )  # fmt: skip

    def healthy() -> bool:
        assert proc.poll() is None, (home / "up.out").read_text()[-3000:]
        return requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).ok

    wait_for("airflow standalone", healthy, timeout=300)
    pgid = json.loads((home / "up.json").read_text())["pgid"]
    return proc, pgid, port


@pytest.fixture
def home():
    """Outside pytest's own temporary root: the embedded PostgreSQL runs as another user, who
    must be able to reach its data folder."""
    path = Path(tempfile.mkdtemp(prefix="jf-up-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ctrl_c_ends_every_process_up_started(home):
    """A real `make up` (airflow standalone: api-server, scheduler, dag-processor, triggerer)
    and Ctrl+C in its terminal."""
    proc, pgid, _ = start_up(home)
    assert group_alive(pgid) and postgres_running(home)
    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=240)  # the grace period, then stopping PostgreSQL, on busy cores
    except subprocess.TimeoutExpired:
        ps = subprocess.run(["ps", "-o", "pid,pgid,stat,args", "-g", str(pgid)],
                            capture_output=True, text=True).stdout  # fmt: skip
        pytest.fail(f"up did not end after Ctrl+C:\n{(home / 'up.out').read_text()[-4000:]}\n{ps}")
    wait_for("the process group to end", lambda: not group_alive(pgid), timeout=60)
    assert not postgres_running(home) and not (home / "up.json").exists()


def test_make_stop_ends_the_process_group_up_recorded(home, monkeypatch):
    """`make stop` from another terminal: what `up` recorded (the standalone's process group)
    ends, with every process in it; a stale record of another program is left alone."""
    from journeyflow.local import standalone

    env = {**os.environ, "JOURNEYFLOW_HOME": str(home)}
    group = subprocess.Popen(  # stands where airflow standalone stands: a group with children
        ["bash", "-c", "exec -a 'airflow standalone' bash -c 'sleep 600 & sleep 600 & wait'"],
        start_new_session=True,
    )
    reaper = threading.Thread(target=group.wait)  # as `up` waits for its standalone
    reaper.start()
    wait_for("the children", lambda: len(children(group.pid)) == 2, 30, 0.1)
    (home / "up.json").write_text(json.dumps({"pgid": group.pid, "stop_db": False}))
    stop = subprocess.run([str(BIN / "journeyflow"), "stop"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stderr
    reaper.join(30)
    wait_for("the process group to end", lambda: not group_alive(group.pid), 30, 0.1)

    other = subprocess.Popen(["sleep", "600"], start_new_session=True)
    (home / "up.json").write_text(json.dumps({"pgid": other.pid, "stop_db": False}))
    monkeypatch.setenv("JOURNEYFLOW_HOME", str(home))
    assert standalone.stop() and other.poll() is None  # not a standalone: left alone
    other.kill()
    other.wait(10)


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]
