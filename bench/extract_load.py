"""Benchmark: pull and load N contacts and ~10·N events from the demo shop into PostgreSQL.

The demo shop runs as its own process and renders its pages up front, so the figures measure
journeyflow (HTTP client, parsing, validation, COPY, merge), not the synthetic data generator.

    uv run python bench/extract_load.py --contacts 100000        # default
    uv run python bench/extract_load.py --contacts 1000000       # the 10M-event target
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from scratch import free_port, release


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the database folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="jf-bench-"))
    cfg = home / "journeyflow.yaml"
    cfg.write_text(f"source: {{page_size: {args.page_size}, read_timeout: 300}}\n")
    os.environ.update(
        JOURNEYFLOW_HOME=str(home), JOURNEYFLOW_CONFIG=str(cfg), JOURNEYFLOW_MODE="local"
    )
    anchor = date(2026, 11, 20)
    port = free_port()
    print(f"demo shop: {args.contacts:,} contacts, pages of {args.page_size:,}; rendering ...")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "journeyflow.cli", "demo-source", "--contacts", str(args.contacts),
         "--anchor", anchor.isoformat(), "--port", str(port), "--token", "bench",
         "--prerender", str(args.page_size)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in server.stdout:
        if line.startswith("prerendered"):
            break
    print(f"  source ready in {time.perf_counter() - started:.1f}s (not part of the figures)")
    os.environ["AIRFLOW_CONN_JOURNEYFLOW_SOURCE"] = json.dumps(
        {"conn_type": "http", "host": f"http://127.0.0.1:{port}", "password": "bench"}
    )

    from journeyflow import ingest, migrate

    try:
        migrate.migrate()
        rows = {}
        timings = {}
        for step, call in (
            ("extract_contacts", lambda: ingest.extract("contacts", anchor)),
            ("extract_events", lambda: ingest.extract("events", anchor)),
            ("load", lambda: ingest.load(anchor)),
            ("merge", lambda: ingest.merge(anchor)),
        ):
            t0 = time.perf_counter()
            result = call()
            timings[step] = time.perf_counter() - t0
            rows[step] = int(result.rows_out if step != "merge" else result.rows_in)
        events = rows["extract_events"]
        contacts = rows["extract_contacts"]
        total = sum(timings.values())
        print(f"\n{'stage':<18}{'rows':>14}{'seconds':>10}{'rows/s':>14}")
        for step, secs in timings.items():
            print(f"{step:<18}{rows[step]:>14,}{secs:>10.1f}{rows[step] / secs:>14,.0f}")
        both = contacts + events
        print(f"{'whole run':<18}{both:>14,}{total:>10.1f}{both / total:>14,.0f}")
        print(f"\nevents per second, extract+load+merge: {events / total:,.0f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the pipeline process: {peak:,.0f} MB")
    finally:
        server.terminate()
        server.wait()
        release(home, keep=args.keep)


if __name__ == "__main__":
    main()
