"""Benchmark: the whole nightly DAG (``dag.test()``) at N contacts, an initial night and a delta.

    uv run python bench/nightly.py                       # 1,000,000 contacts
    uv run python bench/nightly.py --contacts 2000000

The demo shop (its own process, pages rendered before each night so its generator is not timed)
serves N contacts with their events and anonymous visitors; the SMTP sink is aiosmtpd in its own
process. Night 1 (D) pulls everything. Night 2 (D+1) pulls the delta: the shop's own day plus 1 %
of the contacts changed and new events worth 1 % of night 1's, on random contacts.

Per task: seconds, rows (``journeyflow.pipeline_steps``) and the peak RSS of the task (the DAG
process while the task runs, plus the processes it starts, such as the rendering pool). Beside
them the floors, measured in the same run on the same data: COPY of the same rows, one aggregate
with the same decay over the same events, the rulebook in one pass, Jinja rendering the same
messages, a plain smtplib loop sending them. Below the phases and the decisions, the parts of
the step its floor leaves out, each measured alone (the pass with the open stays joined; the
whole outbox rows, and the decisions in SQL). Last, the delta night against the targets (each
ratio's limit, all tasks but sending under 60 s at 1 M contacts, any task as its own process
under 500 MB at 2 M), each met or missed, and for a missed ratio what its parts alone take.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import multiprocessing
import os
import random
import secrets
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml
from campaigns import start_sink
from floors import floors, parts
from scratch import free_port, release
from targets import print_parts, print_targets

D = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[1]
FLOORS = {  # task -> the floor it is compared with
    "ingest": "COPY of the same rows",
    "score": "one aggregate, same decay, same events",
    "assign_phases": "the rulebook in one pass over the facts",
    "decide_campaigns": "Jinja rendering the same messages, as many processes",
    "send": "plain smtplib loop (timed on up to 20,000, scaled)",
}
INGEST = ("extract_contacts", "extract_events", "load", "merge")


# -- the shop ------------------------------------------------------------------------------------
def _churned(contacts: int, anchor: date, clock: float, edit_share: float, event_rate: float):
    """The demo dataset plus a day of churn before ``clock``: ``edit_share`` of the contacts
    change their record, and every contact gets ``event_rate`` new events on average."""
    from journeyflow.local.demo_source import DemoDataset
    from journeyflow.local.demo_source.dataset import DAY, iso

    class Churned(DemoDataset):
        def timeline(self, i: int):
            tl = super().timeline(i)
            start = clock - DAY
            if tl.created >= start:
                return tl
            rng = random.Random(self.seed * 7_000_003 + i)
            tl.edited = start + rng.random() * DAY if rng.random() < edit_share else None
            count = int(event_rate) + (rng.random() < event_rate % 1)
            for n in range(count):
                kind = rng.choices(
                    ["page_view", "email_open", "email_click", "purchase"], weights=[6, 3, 2, 1]
                )[0]
                props = {}
                if kind == "purchase":
                    props = {"order_id": f"O{i + 1:07d}-n{n}", "amount": 49.0,
                             "currency": "EUR", "product": "Stativ Pro"}  # fmt: skip
                tl.events.append(
                    (start + rng.random() * DAY, f"E{i + 1:07d}-n{n:03d}", kind, props,
                     tl.contact["id"])
                )  # fmt: skip
            return tl

        def updated_at(self, tl, at: float) -> float:
            edited = getattr(tl, "edited", None)
            base = super().updated_at(tl, at)
            return max(base, edited) if edited is not None and edited < at else base

        def contact_as_of(self, tl, at: float):
            rec = super().contact_as_of(tl, at)
            edited = getattr(tl, "edited", None)
            if rec is not None and edited is not None and edited < at:
                rec["house_number"] = f"{rec['house_number'] or 1} (Hinterhaus)"
                rec["updated_at"] = iso(self.updated_at(tl, at))
            return rec

    return Churned(contacts, anchor=anchor)


def shop(spec: dict, port: int, ready) -> None:
    """The demo shop as of ``spec['clock']``, its pull rendered up front (its own process)."""
    from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

    if spec.get("churn"):
        dataset = _churned(spec["contacts"], spec["anchor"], spec["clock"], **spec["churn"])
    else:
        dataset = DemoDataset(spec["contacts"], anchor=spec["anchor"])
    server = DemoSourceServer(dataset, clock=spec["clock"], token="bench", port=port)
    server.prerender(spec["page_size"], since=spec.get("since"))
    ready.set()
    server.serve_forever()


def start_shop(ctx, spec: dict) -> multiprocessing.Process:
    port = free_port()
    ready = ctx.Event()
    process = ctx.Process(target=shop, args=(spec, port, ready), daemon=True)
    started = time.perf_counter()
    process.start()
    while not ready.wait(5):
        if not process.is_alive():
            raise SystemExit(f"the demo shop stopped (exit code {process.exitcode})")
    print(f"  demo shop ready in {time.perf_counter() - started:.0f}s (not timed)", flush=True)
    os.environ["AIRFLOW_CONN_JOURNEYFLOW_SOURCE"] = json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{port}", "password": "bench"}
    )
    return process


# -- per-task seconds and memory -----------------------------------------------------------------
@dataclass
class Task:
    seconds: float = 0.0
    peak_mb: float = 0.0
    start_mb: float = 0.0


@dataclass
class TaskClock:
    """An Airflow listener: seconds and peak RSS of each task run in this process."""

    skip_pids: set[int]
    tasks: dict[str, Task] = field(default_factory=dict)
    current: str | None = None
    _started: float = 0.0
    _peak: float = 0.0
    _start: float = 0.0

    def _rss(self) -> float:
        import psutil

        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            if child.pid not in self.skip_pids:
                with contextlib.suppress(psutil.Error):  # it ended meanwhile
                    total += child.memory_info().rss
        return total / 2**20

    def sample(self, stop: threading.Event) -> None:
        while not stop.wait(0.05):
            if self.current is not None:
                self._peak = max(self._peak, self._rss())

    def begin(self, task_id: str) -> None:
        # dag.test() runs every task in this process: hand what earlier tasks freed back to the
        # system, so that the peak is this task's live memory plus the process's imports
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from now
        self._peak = self._start = self._rss()
        self._started = time.perf_counter()
        self.current = task_id

    def end(self) -> None:
        seconds = time.perf_counter() - self._started
        self.tasks[self.current] = Task(seconds, max(self._peak, _hwm_mb()), self._start)
        self.current = None

    def listener(self):
        from airflow.listeners import hookimpl

        clock = self

        class Listener:
            @hookimpl
            def on_task_instance_running(self, previous_state, task_instance):
                clock.begin(task_instance.task_id)

            @hookimpl
            def on_task_instance_success(self, previous_state, task_instance):
                clock.end()

            @hookimpl
            def on_task_instance_failed(self, previous_state, task_instance, error):
                clock.end()

        return Listener()


def _hwm_mb() -> float:
    """This process's peak RSS (since the last reset through /proc/self/clear_refs)."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("VmHWM")) / 1024


def dag_loaded_mb() -> float:
    """Peak RSS of a new process that has loaded the DAG: where a deployed task's process starts
    (dag.test() runs every task in one process, which keeps what earlier tasks imported)."""
    from journeyflow.local import airflow_home

    airflow_home.configure(quiet=True)
    airflow_home.load_dag()
    return _hwm_mb()


# -- the nights ----------------------------------------------------------------------------------
def steps_of(d: date) -> tuple[dict[str, tuple[int, int]], dict]:
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select step, coalesce(rows_in, 0), coalesce(rows_out, 0), details "
            "from journeyflow.pipeline_steps where run_date = %(d)s",
            {"d": d},
        ).all()
    score = next((details for step, _, _, details in rows if step == "score"), {})
    return {step: (rin, rout) for step, rin, rout, _ in rows}, score


def night(title: str, d: date, clock: TaskClock, smtp_port: int, base_mb: float) -> dict:
    """Run the DAG for D, measure the floors on what it left, print the report; returns the
    report's figures (see ``report``)."""
    from journeyflow.cli.pipeline import run_dag

    clock.tasks.clear()
    state, wall = run_dag(d)
    if state != "success":
        raise SystemExit(f"the run of {d} ended {state}; see $JOURNEYFLOW_HOME/airflow/logs")
    steps, score = steps_of(d)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as other:
        measured = other.submit(floors, d, smtp_port).result()  # not in the DAG's process
        alone = other.submit(parts, d).result()
    figures = report(title, d, clock.tasks, steps, measured, alone, wall, base_mb)
    print(f"  score: behaviour {score.get('behaviour')}, "
          f"{score.get('recomputed', 0):,} contacts recomputed, "
          f"{score.get('folded', 0):,} folded in")  # fmt: skip
    return figures


def _rows(task: str, steps: dict) -> int:
    """Rows of a task's step (``<campaign>.send`` records ``send.<campaign>``)."""
    group, _, name = task.rpartition(".")
    step = steps.get(task) or steps.get(f"{name}.{group}") or steps.get(name) or (0, 0)
    return max(step)


def report(title, d, tasks: dict[str, Task], steps, measured, alone, wall, base_mb) -> dict:
    """Print a night's table, with the parts of a task measured alone (``alone``, see
    ``floors.parts``) below it; returns its figures: each floored task's ratio (as printed), the
    ratio its parts alone make together, the seconds of all tasks but sending, and the estimate of
    the largest task as its own process (MB)."""
    print(f"\n{title} ({d})")
    print(f"  {'task':<32}{'seconds':>9}{'rows':>12}{'peak RSS (+ in the task)':>26}   floor")
    groups: dict[str, list[str]] = {"ingest": [], "send": []}
    ratios: dict[str, float] = {}
    together: dict[str, float] = {}
    for task_id, t in tasks.items():
        group = "ingest" if task_id in INGEST else "send" if task_id.endswith(".send") else None
        if group:
            groups[group].append(task_id)
        floor = ""
        if task_id in FLOORS and task_id in measured:
            secs, n = measured[task_id]
            ratios[task_id] = t.seconds / secs
            floor = f"{FLOORS[task_id]}: {secs:.1f}s ({n:,} rows)  ratio {ratios[task_id]:.2f}x"
        rss = f"{t.peak_mb:.0f} MB (+{t.peak_mb - t.start_mb:.0f})"
        print(f"  {task_id:<32}{t.seconds:>8.1f}s{_rows(task_id, steps):>12,}{rss:>26}"
              f"   {floor}")  # fmt: skip
        if task_id in ratios and task_id in alone:
            together[task_id] = print_parts(task_id, alone[task_id], measured[task_id][0])
    for group, members in groups.items():
        if members and group in measured:
            ours = sum(tasks[m].seconds for m in members)
            secs, n = measured[group]
            label = f"{group} ({len(members)} tasks)"
            print(f"  {label:<32}{ours:>8.1f}s   "
                  f"{FLOORS[group]}: {secs:.1f}s ({n:,} rows)  "
                  f"ratio {ours / secs:.2f}x")  # fmt: skip
    sends = sum(t.seconds for k, t in tasks.items() if k.endswith(".send"))
    total = sum(t.seconds for t in tasks.values())
    peak = max(tasks, key=lambda k: tasks[k].peak_mb)
    alone = max(tasks, key=lambda k: tasks[k].peak_mb - tasks[k].start_mb)
    added = tasks[alone].peak_mb - tasks[alone].start_mb
    print(
        f"  all tasks {total:.1f}s, all but the SMTP conversation {total - sends:.1f}s, "
        f"dag.test() wall {wall:.1f}s"
    )
    print(f"  peak RSS of any task: {tasks[peak].peak_mb:.0f} MB in dag.test()'s process "
          f"({peak}); as its own process, estimated as a new process with the DAG loaded "
          f"({base_mb:.0f} MB) plus what the task and its children added: "
          f"{base_mb + added:.0f} MB ({alone})")  # fmt: skip
    return {
        "ratios": ratios,
        "together": together,
        "but_sending": total - sends,
        "alone_mb": base_mb + added,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--delta", type=float, default=0.01, help="share changed on night 2")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="jf-bench-nightly-"))
    cfg = home / "journeyflow.yaml"
    raw = yaml.safe_load((ROOT / "journeyflow.yaml").read_text(encoding="utf-8"))
    raw.setdefault("source", {}).update(page_size=args.page_size, read_timeout=600)
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    os.environ.update(
        JOURNEYFLOW_HOME=str(home), JOURNEYFLOW_CONFIG=str(cfg), JOURNEYFLOW_MODE="local"
    )
    ctx = multiprocessing.get_context("spawn")
    smtp_sink, smtp_port = start_sink(ctx)
    os.environ["AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE"] = json.dumps(
        {
            "conn_type": "http",
            "host": "https://shop.example/journeyflow/u/",
            "password": "bench:" + secrets.token_hex(16),
        }
    )  # real mail needs a public https link; the sink never follows it

    from journeyflow import warehouse
    from journeyflow.config import load_config
    from journeyflow.local import airflow_home

    airflow_home.configure(quiet=True)
    from airflow.sdk.listener import get_listener_manager

    clock = TaskClock(skip_pids={smtp_sink.pid})
    get_listener_manager().add_listener(clock.listener())
    stop = threading.Event()
    threading.Thread(target=clock.sample, args=(stop,), daemon=True).start()
    cfg_ = load_config()
    print(f"journeyflow_nightly at {args.contacts:,} contacts (home {home})", flush=True)
    with ProcessPoolExecutor(1, mp_context=ctx) as fresh:
        base_mb = fresh.submit(dag_loaded_mb).result()
    print(f"  a new process with the DAG loaded: {base_mb:.0f} MB", flush=True)
    try:
        spec = {"contacts": args.contacts, "anchor": D, "clock": cfg_.cutoff(D).timestamp(),
                "page_size": args.page_size}  # fmt: skip
        source = start_shop(ctx, spec)
        clock.skip_pids.add(source.pid)
        initial = night("initial night", D, clock, smtp_port, base_mb)
        source.terminate()
        with warehouse.transaction() as conn:
            marks = dict(conn.exec_driver_sql(
                "select stream, extract(epoch from value) from journeyflow.watermarks"
            ).all())  # fmt: skip
            events = conn.exec_driver_sql(
                "select (select count(*) from journeyflow.events)"
                " + (select count(*) from journeyflow.anonymous_events)"
            ).scalar()
        d2 = D + timedelta(days=1)
        churn = {"edit_share": args.delta, "event_rate": args.delta * events / args.contacts}
        spec = {**spec, "clock": cfg_.cutoff(d2).timestamp(), "churn": churn,
                "since": {k: float(v) for k, v in marks.items()}}  # fmt: skip
        source = start_shop(ctx, spec)
        clock.skip_pids.add(source.pid)
        figures = night(f"delta night ({args.delta:.0%} of contacts changed, "
                        f"{churn['event_rate'] * args.contacts:,.0f} new events on random "
                        "contacts)", d2, clock, smtp_port, base_mb)  # fmt: skip
        source.terminate()
        print_targets(figures, max(initial["alone_mb"], figures["alone_mb"]), args.contacts)
    finally:
        stop.set()
        smtp_sink.terminate()
        release(home, keep=args.keep)


if __name__ == "__main__":
    main()
