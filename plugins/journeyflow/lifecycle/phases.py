"""Lifecycle phases: the rulebook in SQL, one file per phase, as of the cut-off T of D.

``sql/phases/NN_<phase>.sql`` each select the contact ids of one phase from ``facts``; NN is the
priority and the first match wins. A new phase is a new file: no Python changes. The statement
around a phase file is built here; every fixed statement is in ``sql/lifecycle/``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from journeyflow import warehouse
from journeyflow.config import SQL_DIR, load_config
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

PHASES_DIR = SQL_DIR / "phases"
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


def strip(sql: str) -> str:
    """A phase file's query without its trailing semicolon, ready to be wrapped."""
    return sql.strip().rstrip(";")


_PLAIN = re.compile(r"select\s+contact_id\s+from\s+facts(?:\s+where\s+(.+))?", re.I | re.S)
_NOT_PLAIN = re.compile(
    r"--|/\*|;|\$|\b(union|intersect|except|group\s+by|having|order\s+by|limit|offset|window"
    r"|fetch|for)\b",
    re.I,
)


def condition(rule: PhaseRule) -> str | None:
    """The condition of a phase file that is a plain filter over the facts (``select contact_id
    from facts [where <condition>]``, no comment but the header, no keyword that could end the
    condition, even in a string), folded into one pass with the others; else None."""
    lines = strip(rule.sql).splitlines()
    while lines and lines[0].lstrip().startswith("--"):  # the header
        lines.pop(0)
    plain = _PLAIN.fullmatch("\n".join(lines).strip())
    if not plain or _NOT_PLAIN.search(plain.group(1) or ""):
        return None
    return plain.group(1) or "true"


def assign_phases(run_date: date, phases_dir: Path | None = None) -> StepResult:
    """Assign every contact the first phase whose file selects it; keep history and counts."""
    rules = load_phases(phases_dir)
    params = load_config().rule_params(run_date)
    result = StepResult("assign_phases")
    started = time.perf_counter()
    with warehouse.transaction() as conn:
        conn.execute(statement("lifecycle/facts_view"))
        latest = conn.execute(statement("lifecycle/last_phase_run")).scalar()
        history = latest is None or latest <= run_date
        if not history:
            log.warning(
                "phases of %s are already assigned; %s is kept out of the history", latest, run_date
            )
        elif latest == run_date:  # D's stays exist only when D was assigned before
            _revert(conn, run_date)
        _assign(conn, rules, params, history)
        if history:
            _apply(conn, run_date, params["cutoff"])
        _count(conn, run_date, rules)
        result.rows_in = conn.execute(statement("lifecycle/assigned_count")).scalar()
        result.rows_out = result.rows_in
        moves = conn.execute(statement("lifecycle/transitions_total"), {"d": run_date}).scalar()
        result.details = {"transitions": moves}
        conn.execute(
            statement("lifecycle/phase_run"),
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


def matches(rules: list[PhaseRule]) -> str:
    """The query of (contact_id, rank) for every contact a phase file selects, rank being the
    file's place in ``rules`` (from 1). The plain filters (see ``condition``) are one pass over
    the facts: a case of their conditions in priority order, the first match wins."""
    plain = {rank: condition(rule) for rank, rule in enumerate(rules, start=1)}
    parts = [
        f"select q.contact_id, {rank} as rank from ({strip(rule.sql)}) q"
        for rank, rule in enumerate(rules, start=1)
        if plain[rank] is None
    ]
    cases = " ".join(f"when ({cond}) then {rank}" for rank, cond in plain.items() if cond)
    if cases:
        parts.insert(
            0,
            "select q.contact_id, q.rank from "
            f"(select contact_id, case {cases} end as rank from facts) q where q.rank is not null",
        )
    return " union all ".join(parts)


def order(rules: list[PhaseRule]) -> dict[str, list]:
    """The parameters ``:phases`` and ``:priorities``: the rules' phases and priorities in order."""
    return {"phases": [r.phase for r in rules], "priorities": [r.priority for r in rules]}


def assignment(rules: list[PhaseRule]) -> str:
    """The query of (contact_id, phase, priority): each contact's first matching phase, with the
    parameters of ``order``. One row per contact of the facts when every file is a plain filter
    (see ``condition``), else the matches grouped per contact."""
    one_pass = all(condition(rule) for rule in rules)
    rank, group = ("m.rank", "") if one_pass else ("min(m.rank)", " group by m.contact_id")
    return (
        f"select m.contact_id, (cast(:phases as text[]))[{rank}] as phase, "
        f"(cast(:priorities as int[]))[{rank}] as priority from ({matches(rules)}) m{group}"
    )


def with_open_stays(rules: list[PhaseRule], stays: bool = True) -> str:
    """The query of (contact_id, phase, priority, open_phase): ``assignment`` with the phase of
    each contact's open stay (``stays``; else null), the parameters those of ``order``."""
    contact = 'cast(a.contact_id as text) collate "C"'  # as the history keys it
    open_phase, stay = (
        ("h.phase", "left join journeyflow.phase_history h "
                    f"on h.contact_id = {contact} and h.left_run_date is null")
        if stays
        else ("cast(null as text)", "")
    )  # fmt: skip
    return (
        f"select {contact} as contact_id, a.phase, a.priority, {open_phase} as open_phase "
        f"from ({assignment(rules)}) a {stay}"
    )


def _assign(conn: Connection, rules: list[PhaseRule], params: dict, stays: bool) -> None:
    """Create ``assigned``: each contact's first matching phase, all files in one statement,
    with the phase of the contact's open stay (``stays``; else null). One CREATE TABLE AS, which
    PostgreSQL may run with parallel workers (an INSERT ... SELECT it never does). When it fails,
    the file that fails on its own is named."""
    if not rules:
        conn.execute(statement("lifecycle/assigned_table"))
        return
    savepoint = conn.begin_nested()
    try:
        conn.execute(
            text(f"create temp table assigned on commit drop as {with_open_stays(rules, stays)}"),
            {**params, **order(rules)},
        )
        # as the files promise: every row names a contact (else the check below names the file)
        conn.exec_driver_sql("alter table assigned alter column contact_id set not null")
        savepoint.commit()
    except DBAPIError as failed:
        savepoint.rollback()
        for rule in rules:
            body = strip(rule.sql)
            check = f"select count(*) filter (where q.contact_id is null) from ({body}) q"
            with conn.begin_nested():  # rolled back when it fails
                try:
                    nulls = conn.execute(text(check), params).scalar()
                except DBAPIError as exc:
                    raise PhaseFileError(describe_error(rule, exc)) from exc
            if nulls:
                raise PhaseFileError(
                    f"{rule.name}: selects {nulls} row(s) without a contact_id; "
                    "add 'where contact_id is not null'"
                ) from failed
        raise


def _revert(conn: Connection, run_date: date) -> None:
    """Undo what an earlier run of the same D wrote, so that re-running D is idempotent."""
    conn.execute(statement("lifecycle/forget_entered"), {"d": run_date})
    conn.execute(statement("lifecycle/reopen_left"), {"d": run_date})


def _apply(conn: Connection, run_date: date, cutoff) -> None:
    params = {"d": run_date, "t": cutoff}
    conn.execute(statement("lifecycle/moves_table"))
    conn.execute(statement("lifecycle/close_stays"), params)
    conn.execute(statement("lifecycle/open_stays"), params)


def _count(conn: Connection, run_date: date, rules: list[PhaseRule]) -> None:
    d = {"d": run_date}
    conn.execute(statement("lifecycle/forget_counts"), d)
    conn.execute(statement("lifecycle/forget_transitions"), d)
    conn.execute(
        statement("lifecycle/phase_counts"),
        {**d, **order(rules)},
    )
    conn.execute(statement("lifecycle/phase_transitions"), d)


def describe_error(rule: PhaseRule, exc: DBAPIError) -> str:
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
    params = load_config().rule_params(date.today())
    with warehouse.transaction() as conn:
        conn.execute(statement("lifecycle/facts_view"))
        for rule in rules:
            savepoint = conn.begin_nested()
            try:
                conn.execute(text(f"explain {strip(rule.sql)}"), params)
                cursor = conn.execute(text(f"select * from ({strip(rule.sql)}) q limit 0"), params)
                columns = list(cursor.keys())
                savepoint.commit()
            except DBAPIError as exc:
                savepoint.rollback()
                errors.append(describe_error(rule, exc))
                continue
            if "contact_id" not in columns:
                errors.append(f"{rule.name}: must select contact_id (it selects {columns})")
            elif columns != ["contact_id"]:
                warnings.append(f"{rule.name}: selects {columns}; only contact_id is used")
        last = conn.execute(statement("lifecycle/empty_phases")).scalars()
        for phase in last:
            warnings.append(f"phase {phase} matched nobody in the last run")
        conn.exec_driver_sql("drop view facts")
    return errors, warnings
