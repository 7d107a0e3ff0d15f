"""Commands that run the pipeline: ``demo``, ``run``, ``migrate``, ``demo-source``, ``up``,
``stop-db``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from datetime import date, datetime, timedelta

from journeyflow.cli.format import format_summary, parse_date, yesterday

EXIT = {"SUCCESS": 0, "FAILED": 1, "WARNING": 3}


def run_dag(run_date: date, force: bool = False) -> tuple[str, float]:
    """Run ``journeyflow_nightly`` for D once with ``dag.test()``; returns (state, seconds).

    The whole run holds the run lock (a second run refuses to start). Its logical date is
    midnight of D, not the 02:00 of the schedule, so the scheduler still makes its own run of D
    and of the dates after it."""
    from journeyflow import preflight
    from journeyflow.config import load_config
    from journeyflow.local import airflow_home
    from journeyflow.runlog import HELD_ENV, RunLocked, run_in_progress, run_lock

    preflight.check_run()  # a missing connection: one line now, before Airflow starts
    other = None if force else run_in_progress()
    if other is not None:
        step = f", last step {other['last_step']}" if other["last_step"] else ""
        raise RunLocked(
            f"the run {other['run_id']} of {other['run_date']} is in progress (started "
            f"{other['started_at']:%Y-%m-%d %H:%M}{step}); runs share staging and the outbox, "
            f"so this run of {run_date} did not start and nothing was changed. Wait for it to "
            "finish, or, if it died (the Airflow UI shows it failed), run again with --force"
        )
    airflow_home.ensure_metadata_db()
    dag = airflow_home.load_dag()
    for task in dag.tasks:  # a person at the terminal wants the error now; the scheduler retries
        task.retries = 0
    logical = datetime.combine(run_date, datetime.min.time()).replace(tzinfo=load_config().tz)
    started = time.perf_counter()
    with run_lock(run_date):
        os.environ[HELD_ENV] = str(os.getpid())
        try:
            dag_run = dag.test(logical_date=logical)
        finally:
            os.environ.pop(HELD_ENV, None)
    return str(getattr(dag_run.state, "value", dag_run.state)), time.perf_counter() - started


def cmd_run(args: argparse.Namespace) -> int:
    from journeyflow.cli.format import run_state
    from journeyflow.local import airflow_home
    from journeyflow.summary import summary

    airflow_home.configure(quiet=True)
    state, seconds = run_dag(args.date, force=args.force)
    done = summary(args.date)
    print(format_summary(done, state, seconds))
    return EXIT[run_state(done, state)]


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded DB + demo shop + the nightly run for D (or N nights up to D, the shop's customers
    answering the mail in between), then stop what was started."""
    from journeyflow.cli.format import run_state
    from journeyflow.connections import MODE_ENV
    from journeyflow.local import airflow_home, embedded
    from journeyflow.local.demo_source import pin, responses
    from journeyflow.summary import summary

    os.environ[MODE_ENV] = "local"  # the demo: embedded PostgreSQL, demo shop, local outbox
    airflow_home.configure(quiet=True)
    if args.nights < 1:
        print("journeyflow: --nights must be 1 or more", file=sys.stderr)
        return 2
    last = args.date or yesterday()
    nights = [last - timedelta(days=n) for n in range(args.nights - 1, -1, -1)]
    if args.contacts:
        pin(args.contacts, nights[0])
    db_was_running = os.environ.get("AIRFLOW_CONN_JOURNEYFLOW_DB") is not None or embedded.running()
    print(f"warehouse: embedded PostgreSQL in {embedded.pgdata_dir()}")
    for i, run_date in enumerate(nights):
        state, seconds = _demo_night(run_date, first=i == 0)
        if i < len(nights) - 1:
            if state != "success":
                break
            bought = responses.simulate(run_date)
            print(f"  {run_date}: {state} in {seconds:.0f} s; the shop's customers answer the "
                  f"mail: {bought:,} purchase{'s' if bought != 1 else ''} in the days after "
                  "(simulated)",
                  flush=True)  # fmt: skip
    done = summary(run_date)
    print(format_summary(done, state, seconds))
    if len(nights) > 1:
        from journeyflow.cli.learn import format_results
        from journeyflow.learn.results import read_results

        print(f"\n{format_results(read_results(run_date))}")
    if not db_was_running:
        embedded.stop()
    return EXIT[run_state(done, state)]


def _demo_night(run_date: date, first: bool = True) -> tuple[str, float]:
    """One night of the demo: the demo shop as of D's cut-off on a local port, then the DAG."""
    from journeyflow.config import load_config
    from journeyflow.local.demo_source import DemoSourceServer, dataset_for

    dataset = dataset_for(run_date)
    token = secrets.token_urlsafe(16)
    clock = load_config().cutoff(run_date).timestamp()
    with DemoSourceServer(dataset, clock=clock, token=token) as source:
        os.environ["AIRFLOW_CONN_JOURNEYFLOW_SOURCE"] = json.dumps(
            {"conn_type": "http", "host": source.url, "password": token}
        )
        if first:
            print(f"demo shop: {dataset.size:,} contacts anchored at {dataset.anchor}")
        print(f"running journeyflow_nightly for {run_date} ...", flush=True)
        return run_dag(run_date)


def cmd_migrate(args: argparse.Namespace) -> int:
    from journeyflow import migrate

    applied = migrate.migrate()
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_demo_source(args: argparse.Namespace) -> int:
    """Serve the demo shop in the foreground (for benchmarks or pointing a real Airflow at)."""
    from journeyflow.config import load_config
    from journeyflow.local.demo_source import DemoDataset, DemoSourceServer

    anchor = args.anchor or yesterday()
    dataset = DemoDataset(args.contacts, anchor=anchor, seed=args.seed)
    clock = load_config().cutoff(args.clock or anchor).timestamp()
    server = DemoSourceServer(
        dataset, clock=clock, token=args.token, host=args.host, port=args.port
    )
    if args.prerender:
        started = time.perf_counter()
        pages = server.prerender(args.prerender)
        print(f"prerendered {pages:,} pages in {time.perf_counter() - started:.1f}s", flush=True)
    print(f"demo shop on {server.url} ({args.contacts:,} contacts, anchor {anchor})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """``airflow standalone`` on this project (local mode): UI at http://localhost:PORT."""
    from journeyflow.local import standalone

    return standalone.up(args.port)


def cmd_stop(args: argparse.Namespace) -> int:
    """End what ``journeyflow up`` started, and the embedded PostgreSQL."""
    from journeyflow.local import standalone

    print("stopped" if standalone.stop() else "nothing was running")
    return 0


def cmd_stop_db(args: argparse.Namespace) -> int:
    from journeyflow.local import embedded

    print("stopped" if embedded.stop() else "embedded PostgreSQL was not running")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the nightly pipeline once on the embedded default")
    p.add_argument("--date", type=parse_date, help="logical date D (default: yesterday)")
    p.add_argument("--contacts", type=int, help="demo shop size (pins a new dataset)")
    p.add_argument(
        "--nights",
        type=int,
        default=1,
        help="run the N nights up to D, the shop's customers answering the mail in between "
        "(simulated), then show the campaign results",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run journeyflow_nightly for one logical date")
    p.add_argument("--date", type=parse_date, required=True, help="logical date D, YYYY-MM-DD")
    p.add_argument(
        "--force", action="store_true", help="run although a run marked running died (see logs)"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("migrate", help="apply pending sql/schema files")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo-source", help="serve the demo shop over HTTP")
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--anchor", type=parse_date, help="date the dataset is built around")
    p.add_argument(
        "--clock", type=parse_date, help="serve what happened up to the end of this date"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--host", default="127.0.0.1", help="listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", help="require this bearer token")
    p.add_argument(
        "--prerender",
        type=int,
        metavar="LIMIT",
        help="render the full pull at this page size up front (benchmarks)",
    )
    p.set_defaults(func=cmd_demo_source)

    p = sub.add_parser("up", help="start the Airflow UI locally (airflow standalone)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("stop", help="stop what journeyflow up started (make stop)")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("stop-db", help="stop the embedded PostgreSQL")
    p.set_defaults(func=cmd_stop_db)
