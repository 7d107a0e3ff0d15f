"""Merge: the staged batch into the core tables in one transaction, then the watermarks.

The statements are built from the stream declarations (their columns), so they stay here.
Contacts are upserted only when their data differs; events are immutable and inserted once.
Timestamps after T + ``future_grace_hours`` (or events before ``oldest_event``) are merged but
move no watermark, and a contact's ``updated_at`` from the future does not block newer data.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as daytime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from journeyflow import erasure, warehouse
from journeyflow.config import load_config
from journeyflow.ingest.streams import STREAMS
from journeyflow.quality.checks import EMAIL_REGEX
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

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
where (excluded.updated_at >= c.updated_at or c.updated_at >= :latest)
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
where s.contact_id is not null
  and not exists (select from journeyflow.events e where e.event_id = s.event_id)
"""
MERGE_EVENTS_DEDUP_SQL = f"""
insert into journeyflow.events ({", ".join(_EVENT_COLUMNS)}, run_date)
select distinct on (event_id) {", ".join(_EVENT_COLUMNS)}, :d from journeyflow_staging.events
where contact_id is not null
order by event_id
on conflict (event_id) do nothing
"""
# Anonymous visitors' events (no contact_id) go to their own table, the same way. An event id is
# one event: once the source sends it under a contact it is the contact's (reattributed.sql), and
# an anonymous copy of an event the contacts' table holds is not stored.
_ANONYMOUS_COLUMNS = tuple(c for c in _EVENT_COLUMNS if c != "contact_id")
MERGE_ANONYMOUS_SQL = f"""
insert into journeyflow.anonymous_events ({", ".join(_ANONYMOUS_COLUMNS)}, run_date)
select {", ".join("s." + c for c in _ANONYMOUS_COLUMNS)}, :d from journeyflow_staging.events s
where s.contact_id is null
  and not exists (select from journeyflow.anonymous_events a where a.event_id = s.event_id)
  and not exists (select from journeyflow.events e where e.event_id = s.event_id)
"""
MERGE_ANONYMOUS_DEDUP_SQL = f"""
insert into journeyflow.anonymous_events ({", ".join(_ANONYMOUS_COLUMNS)}, run_date)
select distinct on (event_id) {", ".join(_ANONYMOUS_COLUMNS)}, :d
from journeyflow_staging.events s
where contact_id is null
  and not exists (select from journeyflow.events e where e.event_id = s.event_id)
order by event_id
on conflict (event_id) do nothing
"""


def merge(run_date: date) -> StepResult:
    """Upsert the staged batch into core and advance the watermarks, in one transaction."""
    result = StepResult("merge")
    started = time.perf_counter()
    bounds = plausible(run_date)
    with warehouse.transaction() as conn:
        result.rows_in = conn.execute(statement("ingest/staged_total")).scalar_one()
        contacts = conn.execute(
            text(MERGE_CONTACTS_SQL),
            {"d": run_date, "email_regex": EMAIL_REGEX, "latest": bounds["latest"]},
        ).rowcount
        conn.execute(statement("ingest/reattributed"))
        events = _merge_events(conn, run_date)
        anonymous = _merge_anonymous(conn, run_date)
        links = conn.execute(statement("ingest/stitch"), {"d": run_date}).rowcount
        conn.execute(statement("ingest/advance_watermarks"), {"d": run_date, **bounds})
        result.rows_out = contacts + events + anonymous
        result.details = {
            "contacts_changed": contacts, "events_new": events, "anonymous_events_new": anonymous,
            "identities_new": links,
        }  # fmt: skip
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    log.info(
        "merge: %d contacts inserted or changed, %d new events, %d new anonymous events, "
        "%d anonymous ids linked",
        contacts, events, anonymous, links,
    )  # fmt: skip
    forgotten = erasure.requested(run_date)  # erasure_request events: forgotten within the run
    if forgotten:
        result.details["erased"] = forgotten
        with warehouse.transaction() as conn:
            record_step(conn, run_date, result)
    return result


def plausible(run_date: date) -> dict[str, datetime]:
    """The quality gate's bounds for source timestamps of D: ``oldest`` (quality.oldest_event)
    and ``latest`` (the cut-off T plus quality.future_grace_hours)."""
    cfg = load_config()
    return {
        "oldest": datetime.combine(cfg.quality.oldest_event, daytime(0), tzinfo=UTC),
        "latest": cfg.cutoff(run_date) + timedelta(hours=cfg.quality.future_grace_hours),
    }


def _merge_events(conn: Connection, run_date: date) -> int:
    return _insert_once(conn, run_date, "events", MERGE_EVENTS_SQL, MERGE_EVENTS_DEDUP_SQL)


def _merge_anonymous(conn: Connection, run_date: date) -> int:
    return _insert_once(
        conn, run_date, "anonymous_events", MERGE_ANONYMOUS_SQL, MERGE_ANONYMOUS_DEDUP_SQL
    )


# (drop, create) of each table's key and indexes around its first bulk load: built once, after
# the rows, not row by row (as in sql/schema/001_core.sql, 010_cockpit.sql, 013_identity_...)
_KEYS = {
    "events": (
        ("alter table journeyflow.events drop constraint events_pkey",
         "alter table journeyflow.events add primary key (event_id)"),
        ("drop index if exists journeyflow.events_contact",
         "create index events_contact on journeyflow.events (contact_id)"),
        ("drop index if exists journeyflow.events_time",
         "create index events_time on journeyflow.events (occurred_at)"),
        ("alter table journeyflow.events disable trigger events_ins",
         "alter table journeyflow.events enable trigger events_ins"),
    ),
    "anonymous_events": (
        ("alter table journeyflow.anonymous_events drop constraint anonymous_events_pkey",
         "alter table journeyflow.anonymous_events add primary key (event_id)"),
        ("drop index if exists journeyflow.anonymous_events_visitor",
         "create index anonymous_events_visitor "
         "on journeyflow.anonymous_events (anonymous_id, occurred_at)"),
        ("drop index if exists journeyflow.anonymous_events_time",
         "create index anonymous_events_time "
         "on journeyflow.anonymous_events (occurred_at, anonymous_id)"),
        ("alter table journeyflow.anonymous_events disable trigger anonymous_events_ins",
         "alter table journeyflow.anonymous_events enable trigger anonymous_events_ins"),
    ),
}  # fmt: skip


def _insert_once(conn: Connection, run_date: date, table: str, sql: str, dedup_sql: str) -> int:
    """Insert the staged events new to ``table``; a batch that repeats an event id takes the
    de-duplicating statement. The first load of an empty table builds its key and indexes after
    the rows, without the triggers noting contacts: the next score step recomputes everyone."""
    params = {"d": run_date}
    if conn.exec_driver_sql(f"select not exists (select from journeyflow.{table})").scalar():
        savepoint = conn.begin_nested()
        try:
            for drop, _ in _KEYS[table]:
                conn.exec_driver_sql(drop)
            inserted = conn.execute(text(sql), params).rowcount
            for _, create in _KEYS[table]:
                conn.exec_driver_sql(create)
            if inserted:
                conn.execute(statement("facts/forget_state"))
            savepoint.commit()
            return inserted
        except IntegrityError:
            savepoint.rollback()  # the batch repeats an id: the de-duplicating path below
    savepoint = conn.begin_nested()
    try:
        inserted = conn.execute(text(sql), params).rowcount
        savepoint.commit()
        return inserted
    except IntegrityError:
        savepoint.rollback()
        log.info("%s: the batch repeats some event ids; merging with de-duplication", table)
        return conn.execute(text(dedup_sql), params).rowcount
