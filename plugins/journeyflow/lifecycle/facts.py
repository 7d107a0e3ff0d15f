"""Contact facts as of T: orders, ratings, engagement, the score and the flags.

Two parts. ``sql/facts/behaviour.sql`` sums up each contact's events (and its linked visitors')
in a form that does not depend on T, kept in ``journeyflow.contact_behaviour``; the decayed score
factorises, so it keeps ``sum(points * 2^((t - t0)/h))``. ``sql/facts/contact_facts.sql`` turns
that into the facts as of T (``journeyflow.contact_facts``) for the phases, the campaigns and the
reports.

A night after the one the behaviour is of folds the day's events into the kept rows
(``sql/facts/delta.sql``, ``sql/facts/fold.sql``): the events added since (triggers keep their
ids in ``journeyflow.behaviour_added``), those now before T and the points of those leaving the
score window. It recomputes from all their events only the contacts whose events changed or went
(triggers note them in ``journeyflow.behaviour_changed``), whose additions do not fold, who were
linked to a visitor, or who are new. A replayed date, a gap of more than ``INCREMENTAL_DAYS`` or
other score rules recompute everyone.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import read, statement

INCREMENTAL_DAYS = 31  # a run at most this many days after the behaviour's recomputes the changes
SHAPE = ("score_points", "score_half_life_days", "score_window_days")  # rules kept in the rows
MAX_HALF_LIVES = 500  # T - t0 in half-lives before the sums are rebased (2^1024 overflows)


def _scope(conn: Connection) -> None:
    """The temporary table ``scope``: the contacts an incremental night recomputes."""
    conn.exec_driver_sql(
        'create temp table if not exists scope (contact_id text collate "C" primary key) '
        "on commit drop"
    )


_IN_SCOPE = re.compile(
    r"\(not :some or ([\w.]+) in \(select s\.contact_id from pg_temp\.scope s\)\)"
)


def _behaviour(conn: Connection, params: dict[str, Any], into: str, **scope: Any) -> int:
    """Run ``sql/facts/behaviour.sql`` as ``<into> <query>``; returns the rows written.

    Its conditions ``(not :some or <id> in (select ... from pg_temp.scope s))`` are written out
    for the case at hand: PostgreSQL turns an ``in`` under an ``or`` into a filter on every
    event (a scan of all of them), an ``in`` alone into a join that reads only the scope's."""
    some = scope.pop("some", False)
    query = _IN_SCOPE.sub(
        lambda m: f"{m[1]} in (select s.contact_id from pg_temp.scope s)" if some else "true",
        read("facts/behaviour"),
    )
    return conn.execute(text(f"{into} {query}"), {**params, "only": None, **scope}).rowcount


def compute_facts(conn: Connection, params: dict[str, Any], only: str) -> None:
    """Create the temporary table ``facts`` of one contact as of the cut-off in ``params``, from
    its events (``journeyflow explain``: any date, whatever the kept behaviour is of)."""
    conn.exec_driver_sql("drop table if exists pg_temp.behaviour")
    params = {**params, "t0": params["cutoff"]}
    _behaviour(conn, params, "create temp table behaviour on commit drop as", only=only)
    conn.exec_driver_sql("drop table if exists pg_temp.facts")
    conn.execute(
        text(f"create temp table facts on commit drop as {read('facts/contact_facts')}"),
        {**params, "only": only},
    )
    conn.exec_driver_sql("alter table facts add primary key (contact_id)")
    conn.exec_driver_sql("analyze facts")


def refresh_behaviour(conn: Connection, run_date: date, params: dict[str, Any]) -> dict[str, Any]:
    """Bring ``journeyflow.contact_behaviour`` to the cut-off of ``run_date``: the night's
    additions folded in and the changed contacts recomputed when the rows are of an earlier
    night with the same score rules, else everyone recomputed. Sets ``params['t0']``, the
    reference of the kept score sums. Call it first in its transaction: it reads the events as
    of one moment (an event written meanwhile stays noted for the next night, counted once)."""
    conn.exec_driver_sql("set transaction isolation level repeatable read")
    conn.exec_driver_sql("set local work_mem = '256MB'")  # one hash aggregate over the events
    shape = {k: params[k] for k in SHAPE}
    shape["score_points"] = json.loads(shape["score_points"])
    shape["timezone"] = load_config().timezone  # T and the window edges are days in it
    state = conn.execute(statement("facts/state")).first()
    cutoff = params["cutoff"]
    incremental = (
        state is not None
        and state.run_date < run_date <= state.run_date + timedelta(days=INCREMENTAL_DAYS)
        and state.cutoff < cutoff
        and state.shape == shape
        and (cutoff - state.t0).total_seconds() / 86400
        <= MAX_HALF_LIVES * float(params["score_half_life_days"])
    )
    params["t0"] = state.t0 if incremental else cutoff
    insert = "insert into journeyflow.contact_behaviour"
    folded = 0
    if incremental:
        since = {**params, "since": state.cutoff}
        _scope(conn)
        conn.execute(statement("facts/delta"), since)
        conn.exec_driver_sql("analyze delta")
        conn.execute(statement("facts/changed"), since)
        conn.exec_driver_sql("analyze scope")
        folded = conn.execute(statement("facts/fold")).rowcount
        conn.execute(statement("facts/forget_changed"))
        rows = _behaviour(conn, params, insert, some=True)
    else:
        conn.exec_driver_sql(
            "truncate journeyflow.contact_behaviour, journeyflow.behaviour_changed, "
            "journeyflow.behaviour_added"
        )
        rows = _behaviour(conn, params, insert)
    conn.execute(
        statement("facts/keep_state"),
        {"d": run_date, "t": cutoff, "t0": params["t0"], "shape": json.dumps(shape)},
    )
    how = "incremental" if incremental else "full"
    return {"behaviour": how, "recomputed": rows, "folded": folded}


def score(run_date: date) -> StepResult:
    """Compute contact facts (score, flags, orders, ...) as of T and keep them."""
    result = StepResult("score")
    started = time.perf_counter()
    params = load_config().rule_params(run_date)
    with warehouse.transaction() as conn:
        result.details = refresh_behaviour(conn, run_date, params)
        conn.exec_driver_sql("drop table if exists pg_temp.behaviour")
        conn.exec_driver_sql(
            "create temp view behaviour as select * from journeyflow.contact_behaviour"
        )
        conn.exec_driver_sql("truncate journeyflow.contact_facts")
        # the key is built after the rows, in one sort (not one tree insert per contact)
        conn.exec_driver_sql(
            "alter table journeyflow.contact_facts drop constraint contact_facts_pkey"
        )
        result.rows_out = conn.execute(
            text(f"insert into journeyflow.contact_facts {read('facts/contact_facts')}"),
            {**params, "only": None},
        ).rowcount
        conn.exec_driver_sql(
            "alter table journeyflow.contact_facts "
            "add constraint contact_facts_pkey primary key (contact_id)"
        )
        result.rows_in = result.rows_out
        conn.exec_driver_sql("drop view behaviour")
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result
