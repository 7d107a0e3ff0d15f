"""Benchmark: anonymous visitors and stitching at publisher scale.

    uv run python bench/identity.py                    # 1M contacts, 2M anonymous ids, 20M views
    uv run python bench/identity.py --contacts 100000  # a tenth of it

The warehouse is filled by SQL (generate_series): N contacts with 10·N events as in
bench/lifecycle.py, and a staged batch of 20·N anonymous page views of 2·N anonymous ids spread
over a year, with 0.3·N identify events (and some conflicting ones). Timed, each beside its floor
measured in the same run on the same rows:

- load: the identify conflicts out of the batch (floor: one pass over the staged identifies);
- merge: the anonymous events into their table (floor: the same rows copied into a bare table);
- stitch: the identities from the identifies;
- score: the contact facts with the linked visitors' events (floor: the same facts before any
  visitor is linked);
- funnel: the report's funnel with the flybys (floor: counting the distinct anonymous ids of the
  30 days before T, nothing else).

Then a delta night: 1 % new page views and identifies, the same steps again.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from lifecycle import FILL as CONTACTS_FILL
from scratch import scratch_warehouse

D = date(2026, 11, 20)

STAGE = """
truncate journeyflow_staging.events;
insert into journeyflow_staging.events (event_id, anonymous_id, type, occurred_at, properties)
select :prefix || 'V' || g, 'A' || (1 + (g::bigint * 104729) % (2 * :n)), 'page_view',
       :cutoff - ((g::bigint * 37) % (365 * 1440)) * interval '1 minute',
       '{"path": "/artikel"}'
from generate_series(1, :views) g;
insert into journeyflow_staging.events
    (event_id, contact_id, anonymous_id, type, occurred_at, properties)
select :prefix || 'I' || g, 'C' || lpad((1 + (g * 7) % :n)::text, 8, '0'),
       'A' || (:first_anon + g), 'identify',
       :cutoff - ((g * 13) % (300 * 1440)) * interval '1 minute', '{}'
from generate_series(1, :identifies) g;
insert into journeyflow_staging.events
    (event_id, contact_id, anonymous_id, type, occurred_at, properties)
select :prefix || 'X' || g, 'C' || lpad((2 + (g * 11) % :n)::text, 8, '0'),
       'A' || (:first_anon + g), 'identify', :cutoff - interval '1 hour', '{}'
from generate_series(1, :identifies / 300) g;
analyze journeyflow_staging.events
"""


def staged(conn, n: int, views: int, identifies: int, first_anon: int, prefix: str,
           day: date) -> None:  # fmt: skip
    from sqlalchemy import text

    from journeyflow.config import load_config

    cutoff = load_config().cutoff(day)
    for sql in STAGE.split(";"):
        if sql.strip():
            conn.execute(text(sql), {"n": n, "views": views, "identifies": identifies,
                                     "first_anon": first_anon, "prefix": prefix,
                                     "cutoff": cutoff})  # fmt: skip


def timed(label: str, fn, floor_label: str | None = None, floor=None) -> tuple[float, float]:
    t0 = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - t0
    line = f"{label:<34}{seconds:>8.1f}s {rows if rows is not None else '':>12}"
    floor_s = 0.0
    if floor is not None:
        t0 = time.perf_counter()
        floor()
        floor_s = time.perf_counter() - t0
        line += f"   floor {floor_label}: {floor_s:.1f}s  ratio {seconds / floor_s:.2f}x"
    print(line, flush=True)
    return seconds, floor_s


def night(n: int, day: date, views: int, identifies: int, first_anon: int, prefix: str) -> float:
    from sqlalchemy import text

    from journeyflow import lifecycle, warehouse
    from journeyflow.config import load_config
    from journeyflow.ingest.merge import MERGE_ANONYMOUS_SQL, _merge_anonymous
    from journeyflow.lifecycle.reports import FLYBY_DAYS
    from journeyflow.sqlfile import read, statement

    with warehouse.transaction() as conn:
        staged(conn, n, views, identifies, first_anon, prefix, day)
    cfg = load_config()
    cutoff = cfg.cutoff(day)
    total = 0.0

    def run(sql_name: str, **params):
        def go():
            with warehouse.transaction() as conn:
                return conn.execute(statement(sql_name), {"d": day, **params}).rowcount

        return go

    def sql(text_: str, **params):
        def go():
            with warehouse.transaction() as conn:
                conn.execute(text(text_), {"d": day, **params})

        return go

    def conflicts():
        with warehouse.transaction() as conn:
            return conn.execute(statement("ingest/quarantine_conflicts"), {"d": day}).scalar()

    s, _ = timed(
        "load: identify conflicts out",
        conflicts,
        "one pass",
        sql("select count(*) from journeyflow_staging.events where type = 'identify'"),
    )
    total += s

    def merge():
        with warehouse.transaction() as conn:
            return _merge_anonymous(conn, day)

    floor_copy = MERGE_ANONYMOUS_SQL.replace(
        "insert into journeyflow.anonymous_events", "insert into bench_copy"
    ).split("\n  and not exists")[0]

    def copy():
        with warehouse.transaction() as conn:
            conn.exec_driver_sql(
                "create temp table bench_copy (like journeyflow.anonymous_events) on commit drop"
            )
            conn.execute(text(floor_copy), {"d": day})

    loaded, _ = timed("merge: anonymous events", merge, "bare copy", copy)
    s, _ = timed("stitch: identities", run("ingest/stitch"))
    total += s
    with warehouse.transaction() as conn:
        conn.exec_driver_sql("analyze journeyflow.anonymous_events")
        conn.exec_driver_sql("analyze journeyflow.identities")

    def score():
        return lifecycle.score(day).rows_out

    def score_unlinked():  # the same facts with no visitor linked (the floor)
        with warehouse.transaction() as conn:
            conn.exec_driver_sql("alter table journeyflow.identities rename to identities_off")
            conn.exec_driver_sql("create table journeyflow.identities "
                                 "(like journeyflow.identities_off including all)")  # fmt: skip
        try:
            lifecycle.score(day)
        finally:
            with warehouse.transaction() as conn:
                conn.exec_driver_sql("drop table journeyflow.identities")
                conn.exec_driver_sql("alter table journeyflow.identities_off rename to identities")

    s, floor_s = timed(
        "score: facts with linked visitors", score, "no visitor linked", score_unlinked
    )
    total += s
    extra = s - floor_s
    lifecycle.score(day)
    funnel_sql = read("reports/funnel")
    params = {"cutoff": cutoff, "flyby_days": FLYBY_DAYS}

    def funnel():
        with warehouse.transaction() as conn:
            conn.execute(text("delete from journeyflow.report_funnel where run_date = :d"),
                         {"d": day})  # fmt: skip
            return conn.execute(text(funnel_sql), {"d": day, **params}).rowcount

    s, _ = timed(
        "funnel: flybys and stages", funnel, "count distinct ids of 30 days",
        sql("select count(distinct anonymous_id) from journeyflow.anonymous_events "
            "where occurred_at >= :cutoff - make_interval(days => :flyby_days) "
            "and occurred_at < :cutoff", **params),
    )  # fmt: skip
    total += s
    with warehouse.transaction() as conn:
        stages = conn.execute(
            text("select stage, people from journeyflow.v_funnel where run_date = :d"),
            {"d": day},
        ).all()
    stitching = total - s - floor_s  # conflicts, links, and what the linked events add to score
    print(f"{'stitching':<34}{stitching:>8.1f}s   (identify conflicts, links, and the "
          f"{extra:.1f}s the linked visitors' events add to the score)")  # fmt: skip
    print(f"{'stitching and funnel':<34}{stitching + s:>8.1f}s   (target: under 60 s; "
          f"loading the anonymous events, {loaded:.1f}s, is the extract's)")  # fmt: skip
    print("funnel: " + ", ".join(f"{s} {p:,}" for s, p in stages) + "\n")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.contacts
    with scratch_warehouse("jf-bench-identity-", CONTACTS_FILL, n) as fill_seconds:
        print(f"warehouse: {n:,} contacts, {10 * n:,} events ({fill_seconds:.0f}s to fill); "
              f"batch: {20 * n:,} page views of {2 * n:,} anonymous ids, "
              f"{3 * n // 10:,} identifies\n")  # fmt: skip
        print(f"{'initial night':<34}{'seconds':>9} {'rows':>12}")
        night(n, D, 20 * n, 3 * n // 10, 0, "")
        print(f"{'delta night (1 % new)':<34}{'seconds':>9} {'rows':>12}")
        night(n, D + timedelta(days=1), n // 5, 3 * n // 1000, 2 * n, "d")


if __name__ == "__main__":
    main()
