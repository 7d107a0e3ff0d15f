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
with the same decay over the same events, one pass over the facts, Jinja rendering the same
messages, a plain smtplib loop sending them.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import json
import multiprocessing
import os
import random
import secrets
import smtplib
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml
from campaigns import start_sink
from scratch import free_port, release

D = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[1]
FLOORS = {  # task -> the floor it is compared with
    "ingest": "COPY of the same rows",
    "score": "one aggregate, same decay, same events",
    "assign_phases": "one pass over the facts",
    "decide_campaigns": "Jinja rendering the same messages",
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
        status = Path("/proc/self/status").read_text()
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        self.tasks[self.current] = Task(seconds, max(self._peak, hwm / 1024), self._start)
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


# -- floors --------------------------------------------------------------------------------------
def _copy_out(cur, sql: str) -> io.StringIO:
    buf = io.StringIO()
    cur.copy_expert(f"copy ({sql}) to stdout", buf)
    buf.seek(0)
    return buf


def floors(d: date, smtp_port: int) -> dict[str, tuple[float, int]]:
    """(seconds, rows) of each floor for the night of D, on the warehouse as the night left it."""
    from sqlalchemy import text

    from journeyflow import warehouse
    from journeyflow.config import load_config

    params = load_config().rule_params(d)
    out: dict[str, tuple[float, int]] = {}
    raw = warehouse.engine().raw_connection()
    try:
        cur = raw.cursor()
        copied, seconds = 0, 0.0
        for table, where in (("contacts", "changed_run_date = %(d)s"),
                             ("events", "run_date = %(d)s"),
                             ("anonymous_events", "run_date = %(d)s")):  # fmt: skip
            sql = cur.mogrify(f"select * from journeyflow.{table} where {where}", {"d": d})
            rows = _copy_out(cur, sql.decode() if isinstance(sql, bytes) else sql)
            cur.execute(f"create temp table floor_{table} (like journeyflow.{table})")
            t0 = time.perf_counter()
            cur.copy_expert(f"copy floor_{table} from stdin", rows, size=1 << 26)
            seconds += time.perf_counter() - t0
            cur.execute(f"select count(*) from floor_{table}")
            copied += cur.fetchone()[0]
        out["ingest"] = (seconds, copied)
        raw.rollback()
    finally:
        raw.close()

    with warehouse.transaction() as conn:
        conn.exec_driver_sql("set local work_mem = '256MB'")
        t0 = time.perf_counter()
        n = conn.execute(text(AGGREGATE), params).rowcount
        out["score"] = (time.perf_counter() - t0, n)
        t0 = time.perf_counter()
        n = conn.execute(text(ONE_PASS), params).rowcount
        out["assign_phases"] = (time.perf_counter() - t0, n)
        conn.rollback()
    out["decide_campaigns"] = _render_floor(d)
    out["send"] = smtp_floor(d, smtp_port)
    return out


AGGREGATE = """
create temp table floor_score as
select contact_id, count(*) as events, sum(p.points * power(cast(0.5 as float8),
           (date_part('epoch', cast(:cutoff as timestamptz)) - date_part('epoch', occurred_at))
           / (86400.0 * :score_half_life_days))) filter (where occurred_at >= w.since) as score
from (
    select contact_id, type, occurred_at from journeyflow.events where occurred_at < :cutoff
    union all
    select i.contact_id, a.type, a.occurred_at
    from journeyflow.identities i join journeyflow.anonymous_events a using (anonymous_id)
    where i.identified_at < :cutoff and a.occurred_at < :cutoff
) e
cross join (select :cutoff - make_interval(days => :score_window_days) as since) w
left join (
    select key as type, value::float8 as points
    from jsonb_each_text(cast(:score_points as jsonb))
) p using (type)
group by contact_id
"""
ONE_PASS = """
create temp table floor_phases as
select contact_id, case when order_count > 0 then 'customer' else 'prospect' end as phase
from journeyflow.contact_facts
"""


def _messages(d: date) -> list[tuple]:
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        return conn.exec_driver_sql(
            """
            select o.campaign, o.step, o.variant, c.contact_id, c.email, c.language,
                   c.salutation, c.title, c.first_name, c.last_name, c.city,
                   coalesce(f.order_count, 0), f.first_product, f.last_product,
                   f.first_order_at, f.last_order_at
            from journeyflow.outbox o
            join journeyflow.contacts c using (contact_id)
            left join journeyflow.contact_facts f using (contact_id)
            where o.run_date = %(d)s and o.channel = 'email'
            """,
            {"d": d},
        ).all()


def _render_floor(d: date) -> tuple[float, int]:
    """Jinja alone (subject, text, HTML; one process) for the emails D put into the outbox."""
    from journeyflow.email.render import Recipient, Renderer

    rows = _messages(d)
    renderer = Renderer()
    t0 = time.perf_counter()
    for campaign, step, variant, *contact in rows:
        renderer.render(Recipient(*contact), campaign, step, d, variant)
    return time.perf_counter() - t0, len(rows)


def smtp_floor(d: date, port: int, sample: int = 20_000) -> tuple[float, int]:
    """The plain smtplib loop on (a sample of) the emails D sent, scaled to all of them."""
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select recipient, message, count(*) over () from journeyflow.outbox "
            "where run_date = %(d)s and channel = 'email' and status = 'sent' limit %(n)s",
            {"d": d, "n": sample},
        ).all()
    if not rows:
        return 0.0, 0
    sent = rows[0][2]  # all of D's sent emails, counted before the limit
    messages = [(rcpt, body.encode("ascii")) for rcpt, body, _ in rows]
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for rcpt, body in messages:
            smtp.sendmail("news@lichtblick.example", [rcpt], body)
    return (time.perf_counter() - t0) * sent / len(messages), sent


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


def night(title: str, d: date, clock: TaskClock, smtp_port: int) -> dict:
    from journeyflow.cli.pipeline import run_dag

    clock.tasks.clear()
    state, wall = run_dag(d)
    if state != "success":
        raise SystemExit(f"the run of {d} ended {state}; see $JOURNEYFLOW_HOME/airflow/logs")
    steps, score = steps_of(d)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as other:
        measured = other.submit(floors, d, smtp_port).result()  # not in the DAG's process
    report(title, d, clock.tasks, steps, measured, wall)
    print(f"  score: behaviour {score.get('behaviour')}, "
          f"{score.get('recomputed', 0):,} contacts recomputed")  # fmt: skip
    return measured


def _rows(task: str, steps: dict) -> int:
    """Rows of a task's step (``<campaign>.send`` records ``send.<campaign>``)."""
    group, _, name = task.rpartition(".")
    step = steps.get(task) or steps.get(f"{name}.{group}") or steps.get(name) or (0, 0)
    return max(step)


def report(title, d, tasks: dict[str, Task], steps, measured, wall) -> None:
    print(f"\n{title} ({d})")
    print(f"  {'task':<32}{'seconds':>9}{'rows':>12}{'peak RSS (+ in the task)':>26}   floor")
    groups: dict[str, list[str]] = {"ingest": [], "send": []}
    for task_id, t in tasks.items():
        group = "ingest" if task_id in INGEST else "send" if task_id.endswith(".send") else None
        if group:
            groups[group].append(task_id)
        floor = ""
        if task_id in FLOORS and task_id in measured:
            secs, n = measured[task_id]
            floor = f"{FLOORS[task_id]}: {secs:.1f}s ({n:,} rows)  ratio {t.seconds / secs:.2f}x"
        rss = f"{t.peak_mb:.0f} MB (+{t.peak_mb - t.start_mb:.0f})"
        print(f"  {task_id:<32}{t.seconds:>8.1f}s{_rows(task_id, steps):>12,}{rss:>26}"
              f"   {floor}")  # fmt: skip
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
    peak = max(t.peak_mb for t in tasks.values())
    print(f"  all tasks {total:.1f}s, all but the SMTP conversation {total - sends:.1f}s, "
          f"dag.test() wall {wall:.1f}s; peak RSS of any task {peak:.0f} MB")  # fmt: skip


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
    try:
        spec = {"contacts": args.contacts, "anchor": D, "clock": cfg_.cutoff(D).timestamp(),
                "page_size": args.page_size}  # fmt: skip
        source = start_shop(ctx, spec)
        clock.skip_pids.add(source.pid)
        night("initial night", D, clock, smtp_port)
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
        night(f"delta night ({args.delta:.0%} of contacts changed, "
              f"{churn['event_rate'] * args.contacts:,.0f} new events on random contacts)", d2,
              clock, smtp_port)  # fmt: skip
        source.terminate()
    finally:
        stop.set()
        smtp_sink.terminate()
        release(home, keep=args.keep)


if __name__ == "__main__":
    main()
