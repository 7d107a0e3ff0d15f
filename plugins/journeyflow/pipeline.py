"""The nightly steps for one logical date D. Each step is idempotent for D.

extract (per stream) -> load -> [quality gate] -> merge. DAG tasks and the CLI call these.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from journeyflow import settings, warehouse
from journeyflow.connections import get_connection
from journeyflow.overlap import prefetch
from journeyflow.quality.checks import EMAIL_REGEX
from journeyflow.source import STREAMS, HttpSource, Stream

log = logging.getLogger(__name__)

SOURCE_CONN_ID = "journeyflow_source"


@dataclass
class StepResult:
    step: str
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 3),
            **self.details,
        }


def _plain(value: Any) -> Any:
    """JSON for database numbers (sums come back as Decimal)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def record_step(conn: Connection, run_date: date, result: StepResult) -> None:
    conn.execute(
        text(
            """insert into journeyflow.pipeline_steps
                 (run_date, step, rows_in, rows_out, quarantined, seconds, details, finished_at)
               values (:d, :step, :rin, :rout, :q, :s, cast(:details as jsonb), now())
               on conflict (run_date, step) do update set
                 rows_in = excluded.rows_in, rows_out = excluded.rows_out,
                 quarantined = excluded.quarantined, seconds = excluded.seconds,
                 details = excluded.details, finished_at = excluded.finished_at"""
        ),
        {
            "d": run_date,
            "step": result.step,
            "rin": result.rows_in,
            "rout": result.rows_out,
            "q": result.quarantined,
            "s": result.seconds,
            "details": orjson.dumps(result.details, default=_plain).decode(),
        },
    )


def start_run(run_date: date, run_id: str | None = None) -> None:
    """Record that D started (again): attempts count up, the message clears."""
    with warehouse.transaction() as conn:
        conn.execute(
            text(
                """insert into journeyflow.pipeline_runs (run_date, run_id, status, started_at)
                   values (:d, :r, 'running', now())
                   on conflict (run_date) do update set run_id = excluded.run_id,
                     status = 'running', started_at = now(), finished_at = null,
                     attempts = journeyflow.pipeline_runs.attempts + 1, message = null"""
            ),
            {"d": run_date, "r": run_id},
        )


def finish_run(run_date: date, status: str, message: str | None = None) -> None:
    with warehouse.transaction() as conn:
        conn.execute(
            text(
                """update journeyflow.pipeline_runs set status = :s, finished_at = now(),
                   message = :m where run_date = :d"""
            ),
            {"d": run_date, "s": status, "m": message},
        )


# -- extract ------------------------------------------------------------------------------------


@contextmanager
def open_source(run_date: date) -> Iterator[HttpSource]:
    """The ``journeyflow_source`` connection, or the bundled demo shop as of D's cut-off."""
    config = settings.load_config()
    conn = get_connection(SOURCE_CONN_ID)
    if conn is not None:
        yield HttpSource(source_base_url(conn), conn.password or None, config.source)
        return
    from journeyflow.demo_source import DemoSourceServer
    from journeyflow.demo_source.config import dataset_for

    dataset = dataset_for(run_date)
    clock = config.cutoff(run_date).timestamp()
    with DemoSourceServer(dataset, clock=clock) as server:
        log.info(
            "no %s connection: serving the demo shop (%d contacts)", SOURCE_CONN_ID, dataset.size
        )
        yield HttpSource(server.url, None, config.source)


def source_base_url(conn: Any) -> str:
    host = (conn.host or "").rstrip("/")
    if not host:
        raise ValueError(
            f"connection {SOURCE_CONN_ID} has no host: set it to the source's base URL"
        )
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


def extract(stream_name: str, run_date: date) -> StepResult:
    """Pull one stream since its watermark into staging (COPY); bad records to quarantine.

    Three things overlap: the next page is fetched while this one is mapped to rows, and the
    previous page is copied into PostgreSQL by a writer thread. At most three pages are in
    memory at once, however large the source is. One transaction: all or nothing.
    """
    stream = STREAMS[stream_name]
    result = StepResult(f"extract_{stream_name}")
    started = time.perf_counter()
    with warehouse.transaction() as conn, ThreadPoolExecutor(1, "copy") as writer:
        since = conn.execute(
            text("select value from journeyflow.watermarks where stream = :s"), {"s": stream.name}
        ).scalar()
        conn.exec_driver_sql(f"truncate journeyflow_staging.{stream.name}")
        pages = 0
        pending: Future | None = None
        with open_source(run_date) as source:
            for page in prefetch(source.pages(stream, since)):
                pages += 1
                rows, kept, bad = stream.map_records(page)
                data = _csv(rows)
                if pending is not None:
                    result.quarantined += pending.result()
                pending = writer.submit(_store_page, conn, stream, data, rows, kept, bad, run_date)
                result.rows_in += len(page)
            if pending is not None:
                result.quarantined += pending.result()
            result.rows_out = result.rows_in - result.quarantined
            result.details = {
                "since": since.isoformat() if since else None,
                "pages": pages,
                "requests": source.requests_made,
                "retries": source.retries,
            }
        conn.execute(
            text(
                """insert into journeyflow_staging.batch as b
                     (stream, run_date, since, pages, records, staged, quarantined)
                   values (:s, :d, :since, :p, :n, :ok, :q)
                   on conflict (stream) do update set run_date = excluded.run_date,
                     since = excluded.since, pages = excluded.pages, records = excluded.records,
                     staged = excluded.staged, quarantined = excluded.quarantined"""
            ),
            {
                "s": stream.name,
                "d": run_date,
                "since": since,
                "p": pages,
                "n": result.rows_in,
                "ok": result.rows_out,
                "q": result.quarantined,
            },  # fmt: skip
        )
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    log.info(
        "%s: %d records in %d pages, %d staged, %d quarantined, %.1fs",
        stream.name, result.rows_in, pages, result.rows_out, result.quarantined, result.seconds,
    )  # fmt: skip
    return result


def _store_page(
    conn: Connection,
    stream: Stream,
    data: str,
    rows: list,
    kept: list,
    bad: list,
    run_date: date,
) -> int:
    """COPY a page's rows and quarantine its bad records; returns how many were quarantined."""
    if rows:
        bad = bad + _copy_rows(conn, stream, data, rows, kept)
    if bad:
        quarantine(conn, stream.name, run_date, bad)
    return len(bad)


def _copy_sql(stream: Stream) -> str:
    return (
        f"copy journeyflow_staging.{stream.name} ({', '.join(stream.columns)}) "
        "from stdin with (format csv)"
    )


def _csv(rows: list[tuple]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _copy_rows(
    conn: Connection, stream: Stream, data: str, rows: list[tuple], recs: list
) -> list[tuple]:
    """COPY a page; if the database rejects it, find and return the rejected records."""
    savepoint = conn.begin_nested()
    try:
        warehouse.copy_from(conn, _copy_sql(stream), io.StringIO(data))
        savepoint.commit()
        return []
    except DBAPIError:
        savepoint.rollback()
    rejected = []
    for row, rec in zip(rows, recs, strict=True):
        if not isinstance(rec, dict):
            rec = msgspec.json.decode(rec)
        savepoint = conn.begin_nested()
        try:
            warehouse.copy_from(conn, _copy_sql(stream), io.StringIO(_csv([row])))
            savepoint.commit()
        except DBAPIError as exc:
            savepoint.rollback()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            rejected.append((row[0], f"rejected by the database: {reason}", rec))
    return rejected


def quarantine(conn: Connection, stream: str, run_date: date, bad: list[tuple]) -> None:
    """Keep malformed records with their reason; the same record twice is kept once."""
    params = []
    for record_id, reason, rec in bad:
        raw = orjson.dumps(rec).decode().replace("\\u0000", "\\\\u0000")  # jsonb refuses NUL
        params.append({
            "s": stream, "id": record_id, "reason": reason, "raw": raw,
            "h": hashlib.sha256(raw.encode()).hexdigest(), "d": run_date,
        })  # fmt: skip
    conn.execute(
        text(
            """insert into journeyflow.quarantine
                 (stream, record_id, reason, raw, raw_hash, first_run_date)
               values (:s, :id, :reason, cast(:raw as jsonb), :h, :d)
               on conflict (stream, raw_hash) do nothing"""
        ),
        params,
    )


# -- load ---------------------------------------------------------------------------------------

_EVENT_JSON = """jsonb_build_object('id', e.event_id, 'contact_id', e.contact_id, 'type', e.type,
    'occurred_at', e.occurred_at, 'properties', e.properties)"""

LOAD_SQL = f"""
with orphans as (
    delete from journeyflow_staging.events e
    where not exists (select from journeyflow.contacts c where c.contact_id = e.contact_id)
      and not exists (select from journeyflow_staging.contacts s where s.contact_id = e.contact_id)
    returning e.*
), kept as (
    insert into journeyflow.quarantine
        (stream, record_id, reason, raw, raw_hash, first_run_date)
    select 'events', e.event_id, 'unknown contact_id', {_EVENT_JSON},
           md5({_EVENT_JSON}::text), :d
    from orphans e
    on conflict (stream, raw_hash) do nothing
    returning 1
)
select (select count(*) from orphans) as orphans
"""


def load(run_date: date) -> StepResult:
    """Finish the batch across streams: events whose contact is unknown go to quarantine."""
    result = StepResult("load")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        batch = {
            row.stream: row for row in conn.execute(text("select * from journeyflow_staging.batch"))
        }
        missing = [s for s in STREAMS if s not in batch or batch[s].run_date != run_date]
        if missing:
            raise RuntimeError(
                f"staging holds no extract of {', '.join(missing)} for {run_date}; "
                "clear the extract tasks of this run so they run again"
            )
        orphans = conn.execute(text(LOAD_SQL), {"d": run_date}).scalar_one()
        counts = conn.execute(
            text(
                """select (select count(*) from journeyflow_staging.contacts),
                          (select count(*) from journeyflow_staging.events)"""
            )
        ).one()
        result.rows_in = sum(b.staged for b in batch.values())
        result.rows_out = counts[0] + counts[1]
        result.quarantined = orphans
        result.details = {"contacts": counts[0], "events": counts[1]}
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


# -- merge --------------------------------------------------------------------------------------

_DATA_COLUMNS = [c for c in STREAMS["contacts"].columns if c != "contact_id"]
_ADDRESS = ("street", "house_number", "postal_code", "city", "country")


def _row(prefix: str, cols) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in cols) + ")"


MERGE_CONTACTS_SQL = f"""
insert into journeyflow.contacts as c
    (contact_id, {", ".join(_DATA_COLUMNS)}, email_valid, address_changed_at, first_run_date,
     changed_run_date)
select distinct on (s.contact_id)
    s.contact_id, {", ".join("s." + col for col in _DATA_COLUMNS)},
    coalesce(s.email ~ :email_regex, false), s.created_at, :d, :d
from journeyflow_staging.contacts s
order by s.contact_id, s.updated_at desc
on conflict (contact_id) do update set
    {", ".join(f"{col} = excluded.{col}" for col in _DATA_COLUMNS)},
    email_valid = excluded.email_valid,
    address_changed_at = case
        when {_row("c", _ADDRESS)} is distinct from {_row("excluded", _ADDRESS)}
        then excluded.updated_at else c.address_changed_at end,
    changed_run_date = excluded.changed_run_date
where excluded.updated_at >= c.updated_at
  and {_row("c", _DATA_COLUMNS)} is distinct from {_row("excluded", _DATA_COLUMNS)}
"""

_EVENT_COLUMNS = STREAMS["events"].columns + (
    "order_id", "amount", "currency", "product", "rating", "referred_contact_id", "channel", "kind",
)  # fmt: skip
# Events are immutable: insert the new ones. The anti-join is the fast path; a batch that
# carries one event twice (a page boundary moved under the cursor) takes the de-duplicating path.
MERGE_EVENTS_SQL = f"""
insert into journeyflow.events ({", ".join(_EVENT_COLUMNS)}, run_date)
select {", ".join("s." + c for c in _EVENT_COLUMNS)}, :d from journeyflow_staging.events s
where not exists (select from journeyflow.events e where e.event_id = s.event_id)
"""
MERGE_EVENTS_DEDUP_SQL = f"""
insert into journeyflow.events ({", ".join(_EVENT_COLUMNS)}, run_date)
select distinct on (event_id) {", ".join(_EVENT_COLUMNS)}, :d from journeyflow_staging.events
order by event_id
on conflict (event_id) do nothing
"""

ADVANCE_WATERMARKS_SQL = """
insert into journeyflow.watermarks as w (stream, value, run_date)
select stream, value, :d from (
    select 'contacts' as stream, max(updated_at) as value from journeyflow_staging.contacts
    union all
    select 'events', max(occurred_at) from journeyflow_staging.events
) latest
where value is not null
on conflict (stream) do update set value = excluded.value, run_date = excluded.run_date
where excluded.value > w.value
"""


def merge(run_date: date) -> StepResult:
    """Upsert the staged batch into core and advance the watermarks, in one transaction."""
    result = StepResult("merge")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        result.rows_in = (
            conn.execute(text("select sum(staged) from journeyflow_staging.batch")).scalar_one()
            or 0
        )
        contacts = conn.execute(
            text(MERGE_CONTACTS_SQL), {"d": run_date, "email_regex": EMAIL_REGEX}
        ).rowcount
        events = _merge_events(conn, run_date)
        conn.execute(text(ADVANCE_WATERMARKS_SQL), {"d": run_date})
        result.rows_out = contacts + events
        result.details = {"contacts_changed": contacts, "events_new": events}
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    log.info("merge: %d contacts inserted or changed, %d new events", contacts, events)
    return result


def _merge_events(conn: Connection, run_date: date) -> int:
    empty = conn.exec_driver_sql("select not exists (select from journeyflow.events)").scalar()
    if empty:  # first load: build the primary key once, after the rows, not row by row
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql("alter table journeyflow.events drop constraint events_pkey")
            inserted = conn.execute(text(MERGE_EVENTS_SQL), {"d": run_date}).rowcount
            conn.exec_driver_sql("alter table journeyflow.events add primary key (event_id)")
            savepoint.commit()
            return inserted
        except IntegrityError:
            savepoint.rollback()  # the batch repeats an id: the de-duplicating path below
    savepoint = conn.begin_nested()
    try:
        inserted = conn.execute(text(MERGE_EVENTS_SQL), {"d": run_date}).rowcount
        savepoint.commit()
        return inserted
    except IntegrityError:
        savepoint.rollback()
        log.info("events: the batch repeats some event ids; merging with de-duplication")
        return conn.execute(text(MERGE_EVENTS_DEDUP_SQL), {"d": run_date}).rowcount


# -- summary ------------------------------------------------------------------------------------


def summary(run_date: date) -> dict[str, Any]:
    """What D did: steps with counts and seconds, and quarantine reasons, for people to read."""
    from journeyflow.lifecycle import PHASE_COUNTS_SQL  # lifecycle builds on this module

    with warehouse.transaction() as conn:
        steps = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    """select step, rows_in, rows_out, quarantined, seconds, details
                       from journeyflow.pipeline_steps where run_date = :d order by finished_at"""
                ),
                {"d": run_date},
            )
        ]
        reasons = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    """select stream, reason, count(*) as records from journeyflow.quarantine
                       where first_run_date = :d group by 1, 2 order by 1, 3 desc, 2"""
                ),
                {"d": run_date},
            )
        ]
        gate = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    """select check_name, verdict, severity, unexpected_count, observed_value
                       from journeyflow.validation_results where run_date = :d
                       order by verdict = 'passed', check_name"""
                ),
                {"d": run_date},
            )
        ]
        phases = [
            dict(row._mapping) for row in conn.execute(text(PHASE_COUNTS_SQL), {"d": run_date})
        ]
        campaigns = [
            dict(row._mapping)
            for row in conn.execute(
                text(
                    """select campaign, channel, decision, count(*) as contacts
                       from journeyflow.v_campaign_decisions where run_date = :d
                       group by 1, 2, 3 order by 1, 2, 3"""
                ),
                {"d": run_date},
            )
        ]
        totals = conn.execute(
            text(
                """select (select count(*) from journeyflow.contacts) as contacts,
                          (select count(*) from journeyflow.events) as events,
                          (select count(*) from journeyflow.quarantine) as quarantined"""
            )
        ).one()
    return {"run_date": run_date.isoformat(), "steps": steps, "quarantine": reasons,
            "gate": gate, "phases": phases, "campaigns": campaigns,
            "totals": dict(totals._mapping)}  # fmt: skip
