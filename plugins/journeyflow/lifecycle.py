"""Score, phases and reports: the rulebook in SQL, run as of the cut-off T of a logical date D.

``sql/facts/contact_facts.sql`` computes every contact's facts in one set-based pass.
``sql/phases/NN_<phase>.sql`` each select the contact ids of one phase from ``facts``; NN is the
priority and the first match wins. A new phase is a new file: no Python changes.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from journeyflow import settings, warehouse
from journeyflow.pipeline import StepResult, record_step

log = logging.getLogger(__name__)

PHASES_DIR = settings.SQL_DIR / "phases"
FACTS_SQL = settings.SQL_DIR / "facts" / "contact_facts.sql"
_FILE = re.compile(r"^(\d{2,3})_([a-z][a-z0-9_]*)\.sql$")


class PhaseFileError(ValueError):
    """A phase file is broken; the message names the file (and line) and what to fix."""


@dataclass(frozen=True)
class PhaseRule:
    priority: int
    phase: str
    path: Path
    rule: str
    sql: str

    @property
    def name(self) -> str:
        return f"sql/phases/{self.path.name}"


def load_phases(phases_dir: Path | None = None) -> list[PhaseRule]:
    """The phase files in priority order; a bad name or a missing header is an error."""
    phases_dir = phases_dir or PHASES_DIR
    rules = []
    for path in sorted(phases_dir.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise PhaseFileError(
                f"sql/phases/{path.name}: name it NN_<phase>.sql (e.g. 35_vip.sql), "
                "NN being the priority"
            )
        body = path.read_text(encoding="utf-8")
        rule = re.search(r"^--\s*rule:\s*(.+)$", body, re.MULTILINE)
        if not rule:
            raise PhaseFileError(
                f"sql/phases/{path.name}: the header needs a line '-- rule: <the rule in one "
                "sentence>' so marketing can check it"
            )
        rules.append(
            PhaseRule(int(match.group(1)), match.group(2), path, rule.group(1).strip(), body)
        )
    return sorted(rules, key=lambda r: (r.priority, r.phase))


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";")


def _facts(conn: Connection, params: dict[str, Any], only: str | None = None) -> None:
    """Create the temporary table ``facts`` for this transaction."""
    conn.exec_driver_sql("set local work_mem = '256MB'")  # one hash aggregate over all events
    conn.exec_driver_sql("drop table if exists pg_temp.facts")
    conn.execute(
        text(f"create temp table facts on commit drop as {_strip(FACTS_SQL.read_text())}"),
        {**params, "only": only},
    )
    conn.exec_driver_sql("alter table facts add primary key (contact_id)")
    conn.exec_driver_sql("analyze facts")


def score(run_date: date) -> StepResult:
    """Compute contact facts (score, flags, orders, ...) as of T and keep them."""
    result = StepResult("score")
    started = time.perf_counter()
    params = settings.load_config().rule_params(run_date)
    with warehouse.transaction() as conn:
        _facts(conn, params)
        conn.exec_driver_sql("truncate journeyflow.contact_facts")
        result.rows_out = conn.exec_driver_sql(
            "insert into journeyflow.contact_facts select * from facts"
        ).rowcount
        result.rows_in = result.rows_out
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


def assign_phases(run_date: date, phases_dir: Path | None = None) -> StepResult:
    """Assign every contact the first phase whose file selects it; keep history and counts."""
    rules = load_phases(phases_dir)
    cfg = settings.load_config()
    params = cfg.rule_params(run_date)
    result = StepResult("assign_phases")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        conn.exec_driver_sql("create temp view facts as select * from journeyflow.contact_facts")
        conn.exec_driver_sql(
            'create temp table assigned (contact_id text collate "C" primary key, '
            "phase text not null, priority integer not null) on commit drop"
        )
        for rule in rules:
            try:
                conn.execute(
                    text(
                        f"insert into assigned select q.contact_id, :phase, :priority "
                        f"from ({_strip(rule.sql)}) q on conflict (contact_id) do nothing"
                    ),
                    {**params, "phase": rule.phase, "priority": rule.priority},
                )
            except DBAPIError as exc:
                raise PhaseFileError(_describe(rule, exc)) from exc
        latest = conn.execute(text("select max(run_date) from journeyflow.phase_runs")).scalar()
        if latest is not None and latest > run_date:
            log.warning(
                "phases of %s are already assigned; %s is kept out of the history", latest, run_date
            )
        else:
            _revert(conn, run_date)
            _apply(conn, run_date, params["cutoff"])
        _count(conn, run_date, rules)
        result.rows_in = conn.exec_driver_sql("select count(*) from assigned").scalar()
        result.rows_out = result.rows_in
        result.details = {
            "transitions": conn.execute(
                text(
                    "select cast(coalesce(sum(contacts), 0) as bigint) "
                    "from journeyflow.phase_transitions "
                    "where run_date = :d"
                ),
                {"d": run_date},
            ).scalar()
        }
        conn.execute(
            text(
                """insert into journeyflow.phase_runs (run_date, cutoff, contacts, transitions)
                   values (:d, :t, :n, :moves) on conflict (run_date) do update set
                   cutoff = excluded.cutoff, contacts = excluded.contacts,
                   transitions = excluded.transitions"""
            ),
            {
                "d": run_date,
                "t": params["cutoff"],
                "n": result.rows_in,
                "moves": result.details["transitions"],
            },  # fmt: skip
        )
        conn.exec_driver_sql("drop view facts")
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


def _revert(conn: Connection, run_date: date) -> None:
    """Undo what an earlier run of the same D wrote, so that re-running D is idempotent."""
    conn.execute(
        text("delete from journeyflow.phase_history where entered_run_date = :d"), {"d": run_date}
    )
    conn.execute(
        text(
            "update journeyflow.phase_history set left_run_date = null, left_at = null "
            "where left_run_date = :d"
        ),
        {"d": run_date},
    )


def _apply(conn: Connection, run_date: date, cutoff) -> None:
    params = {"d": run_date, "t": cutoff}
    conn.execute(
        text(
            """update journeyflow.phase_history h set left_run_date = :d, left_at = :t
               from assigned a
               where h.contact_id = a.contact_id and h.left_run_date is null
                 and h.phase <> a.phase"""
        ),
        params,
    )
    conn.execute(
        text(
            """insert into journeyflow.phase_history
                 (contact_id, phase, entered_run_date, entered_at, previous_phase)
               select a.contact_id, a.phase, :d, :t, prev.phase
               from assigned a
               left join journeyflow.phase_history prev
                 on prev.contact_id = a.contact_id and prev.left_run_date = :d
               where not exists (select from journeyflow.phase_history h
                                 where h.contact_id = a.contact_id and h.left_run_date is null)"""
        ),
        params,
    )


def _count(conn: Connection, run_date: date, rules: list[PhaseRule]) -> None:
    d = {"d": run_date}
    for table in ("phase_counts", "phase_transitions"):
        conn.execute(text(f"delete from journeyflow.{table} where run_date = :d"), d)
    conn.execute(
        text(
            """insert into journeyflow.phase_counts (run_date, phase, priority, contacts)
               select :d, r.phase, r.priority, count(a.contact_id)
               from unnest(cast(:phases as text[]), cast(:priorities as int[])) r(phase, priority)
               left join assigned a on a.phase = r.phase
               group by r.phase, r.priority"""
        ),
        {**d, "phases": [r.phase for r in rules], "priorities": [r.priority for r in rules]},
    )
    conn.execute(
        text(
            """insert into journeyflow.phase_transitions (run_date, from_phase, to_phase, contacts)
               select :d, coalesce(previous_phase, '(new)'), phase, count(*)
               from journeyflow.phase_history where entered_run_date = :d
               group by 2, 3"""
        ),
        d,
    )


def _describe(rule: PhaseRule, exc: DBAPIError) -> str:
    """'sql/phases/35_vip.sql: line 4: syntax error at or near "form"'."""
    orig = exc.orig
    message = str(orig).strip().splitlines()[0] if orig else str(exc)
    # the statement wraps the file, so PostgreSQL's position is not the file's: find the text
    return f"{rule.name}: {_line_of(rule, message)}{message}"


def _line_of(rule: PhaseRule, message: str) -> str:
    near = re.search(r'at or near "([^"]+)"', message)
    if near:
        for number, text_line in enumerate(rule.sql.splitlines(), start=1):
            if not text_line.lstrip().startswith("--") and re.search(
                rf"\b{re.escape(near.group(1))}\b", text_line
            ):
                return f"line {number}: "
    return ""


# -- reports ------------------------------------------------------------------------------------

# contacts per phase for D with the change since the run before (report and run summary)
PHASE_COUNTS_SQL = """
    select c.phase, c.contacts, c.contacts - coalesce(p.contacts, 0) as change
    from journeyflow.phase_counts c
    left join journeyflow.phase_counts p on p.phase = c.phase and p.run_date = (
        select max(run_date) from journeyflow.phase_counts where run_date < :d)
    where c.run_date = :d order by c.priority"""

REPORT_SQL = {
    "report_cohorts": """
        insert into journeyflow.report_cohorts
            (run_date, signup_month, contacts, buyers, median_days_to_first_order)
        select :d, date_trunc('month', created_at at time zone :tz)::date, count(*),
               count(first_order_at),
               percentile_cont(0.5) within group (
                   order by extract(epoch from first_order_at - created_at) / 86400.0)
        from journeyflow.contact_facts
        group by 2""",
    "report_clv": """
        insert into journeyflow.report_clv
            (run_date, acquisition_product, customers, avg_revenue, total_revenue)
        select :d, coalesce(first_product, '(unknown)'), count(*), round(avg(revenue), 2),
               sum(revenue)
        from journeyflow.contact_facts where order_count > 0
        group by 2""",
    "report_engagement": """
        insert into journeyflow.report_engagement (run_date, engagement_level, contacts)
        select :d, engagement_level, count(*) from journeyflow.contact_facts group by 2""",
}


def report(run_date: date) -> StepResult:
    """Store D's reports: cohorts, lifetime value by first product, engagement levels."""
    result = StepResult("report")
    started = time.perf_counter()
    params = {"d": run_date, "tz": settings.load_config().timezone}
    with warehouse.transaction() as conn:
        for table, sql in REPORT_SQL.items():
            conn.execute(text(f"delete from journeyflow.{table} where run_date = :d"), params)
            result.rows_out += conn.execute(text(sql), params).rowcount
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


def read_report(run_date: date | None = None) -> dict[str, Any]:
    """Everything ``journeyflow report`` prints, for D or the latest run."""
    with warehouse.transaction() as conn:
        if run_date is None:
            run_date = conn.exec_driver_sql(
                "select max(run_date) from journeyflow.phase_runs"
            ).scalar()
        if run_date is None:
            raise LookupError("no phases assigned yet: run the pipeline first")
        d = {"d": run_date}

        def rows(sql: str) -> list[dict]:
            return [dict(r._mapping) for r in conn.execute(text(sql), d)]

        return {
            "run_date": run_date,
            "phases": rows(PHASE_COUNTS_SQL),
            "transitions": rows(
                """select from_phase, to_phase, contacts from journeyflow.phase_transitions
                   where run_date = :d order by contacts desc"""
            ),
            "cohorts": rows(
                """select signup_month, contacts, buyers, median_days_to_first_order
                   from journeyflow.report_cohorts where run_date = :d order by 1"""
            ),
            "clv": rows(
                """select acquisition_product, customers, avg_revenue, total_revenue
                   from journeyflow.report_clv where run_date = :d order by avg_revenue desc"""
            ),
            "engagement": rows(
                """select engagement_level, contacts from journeyflow.report_engagement
                   where run_date = :d order by array_position(array['cold','warm','hot'],
                   engagement_level)"""
            ),
        }


# -- explain and check --------------------------------------------------------------------------


def explain(contact_id: str, run_date: date) -> dict[str, Any]:
    """Why is this person here: facts as of T, each rule tested in order, the resulting phase."""
    rules = load_phases()
    params = settings.load_config().rule_params(run_date)
    with warehouse.transaction() as conn:
        _facts(conn, params, only=contact_id)
        row = conn.exec_driver_sql("select * from facts").mappings().first()
        if row is None:
            raise LookupError(f"contact {contact_id} is not in the warehouse as of {run_date}")
        facts = dict(row)
        tested, phase = [], None
        for rule in rules:
            hit = conn.execute(
                text(f"select exists (select from ({_strip(rule.sql)}) q)"), params
            ).scalar()
            used = [c for c in facts if c != "contact_id" and re.search(rf"\b{c}\b", rule.sql)]
            tested.append({"phase": rule.phase, "priority": rule.priority, "rule": rule.rule,
                           "matched": hit, "values": {c: facts[c] for c in used}})  # fmt: skip
            if hit and phase is None:
                phase = rule.phase
        conn.exec_driver_sql("drop table facts")
    return {"contact_id": contact_id, "run_date": run_date, "cutoff": params["cutoff"],
            "facts": facts, "rules": tested, "phase": phase}  # fmt: skip


def check_phases(phases_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """(errors, warnings) for every phase file, checked against the live schema with EXPLAIN."""
    errors: list[str] = []
    warnings: list[str] = []
    try:
        rules = load_phases(phases_dir)
    except PhaseFileError as exc:
        return [str(exc)], []
    seen: dict[int, str] = {}
    for rule in rules:
        if rule.priority in seen:
            warnings.append(
                f"{rule.name}: priority {rule.priority} is also used by {seen[rule.priority]}; "
                "their order is then alphabetical"
            )
        seen.setdefault(rule.priority, rule.name)
    params = settings.load_config().rule_params(date.today())
    with warehouse.transaction() as conn:
        conn.exec_driver_sql("create temp view facts as select * from journeyflow.contact_facts")
        for rule in rules:
            savepoint = conn.begin_nested()
            try:
                conn.execute(text(f"explain {_strip(rule.sql)}"), params)
                cursor = conn.execute(text(f"select * from ({_strip(rule.sql)}) q limit 0"), params)
                columns = list(cursor.keys())
                savepoint.commit()
            except DBAPIError as exc:
                savepoint.rollback()
                errors.append(_describe(rule, exc))
                continue
            if "contact_id" not in columns:
                errors.append(f"{rule.name}: must select contact_id (it selects {columns})")
            elif columns != ["contact_id"]:
                warnings.append(f"{rule.name}: selects {columns}; only contact_id is used")
        last = conn.exec_driver_sql(
            """select phase from journeyflow.phase_counts where contacts = 0
               and run_date = (select max(run_date) from journeyflow.phase_counts)"""
        ).scalars()
        for phase in last:
            warnings.append(f"phase {phase} matched nobody in the last run")
        conn.exec_driver_sql("drop view facts")
    return errors, warnings
