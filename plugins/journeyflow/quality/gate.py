"""Run the checks on the staged batch with Great Expectations, pushed down to SQL.

The verdict is kept in ``journeyflow.validation_results`` and as GX Data Docs under
``$JOURNEYFLOW_HOME/data_docs/<D>/``. GX failing to run a check (database unreachable, a broken
query) is an error, never a pass.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as daytime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from journeyflow import progress, warehouse
from journeyflow.config import home, load_config
from journeyflow.quality.checks import CRITICAL, Check, RunFacts, configured
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)

STAGED_TABLES = {"contacts": "contacts", "events": "events"}


class GateError(RuntimeError):
    """Great Expectations could not validate the batch; the run must not go on."""


@dataclass
class Finding:
    check: str
    table: str
    column: str | None
    expectation: str
    severity: str
    verdict: str  # passed | warning | failed
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    min_valid: float | None
    observed_value: Any
    description: str

    def sentence(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        what = f"{self.check} ({self.expectation} on {where})"
        if self.unexpected_count is not None:
            share = f"{self.unexpected_percent or 0:.2f}%"
            allowed = (
                f", at most {100 * (1 - self.min_valid):.2f}% allowed"
                if self.min_valid is not None and self.min_valid < 1
                else ""
            )
            total = f" of {self.element_count:,}" if self.element_count is not None else ""
            return f"{what}: {self.unexpected_count:,}{total} rows bad ({share}{allowed})"
        return f"{what}: observed {self.observed_value}"


@dataclass
class Verdict:
    run_date: date
    findings: list[Finding] = field(default_factory=list)
    docs: Path | None = None

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict == "failed"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict == "warning"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def message(self) -> str:
        if self.passed:
            head = f"quality gate passed for {self.run_date}"
            if self.warnings:
                head += f" with {len(self.warnings)} warning(s): " + "; ".join(
                    w.sentence() for w in self.warnings
                )
            return head
        return f"quality gate failed for {self.run_date}: " + "; ".join(
            f.sentence() for f in self.failed
        )


def gx_connection_string(url: URL) -> str:
    """The warehouse URL for GX, reading the staging schema.

    GX refuses host-less URLs: name localhost and let the socket folder in ``host=`` win.
    """
    if url.host is None and "host" in url.query:
        url = url.set(host="localhost")
    # work_mem: the uniqueness checks hash millions of ids; in memory that takes seconds, not tens
    url = url.update_query_dict({"options": "-csearch_path=journeyflow_staging -cwork_mem=256MB"})
    return url.render_as_string(hide_password=False)


def run_facts(conn, run_date: date) -> RunFacts:
    cfg = load_config()
    q = cfg.quality
    medians: dict[str, float | None] = {}
    for stream in STAGED_TABLES:
        runs, median = conn.execute(
            statement("quality/volume_history"),
            {"step": f"extract_{stream}", "d": run_date, "n": q.volume_history_runs},
        ).one()
        medians[stream] = median if runs >= q.volume_min_history else None
    return RunFacts(
        cutoff=cfg.cutoff(run_date),
        oldest_event=datetime.combine(q.oldest_event, daytime(0), tzinfo=UTC),
        future_grace_hours=q.future_grace_hours,
        volume_median=medians,
        volume_factor=q.volume_factor,
        volume_min_rows=q.volume_min_rows,
    )


def docs_dir(run_date: date) -> Path:
    return home() / "data_docs" / run_date.isoformat()


def validate(run_date: date) -> Verdict:
    """Validate the staged batch of D; record and return the verdict (never raises on bad data)."""
    started = time.perf_counter()
    cfg = load_config()
    checks = configured(cfg.quality.checks)
    with warehouse.transaction() as conn:
        facts = run_facts(conn, run_date)
    results = _run_gx(run_date, checks, facts)
    findings = [_finding(check, result) for check, result in results]
    verdict = Verdict(run_date, findings, docs_dir(run_date) / "index.html")
    checked = sum(f.element_count or 0 for f in findings if f.check.endswith("_id_present"))
    step = StepResult(
        "quality_gate",
        rows_in=checked,
        rows_out=checked if verdict.passed else 0,
        details={
            "failed": len(verdict.failed),
            "warnings": len(verdict.warnings),
            "flagged": sum(f.unexpected_count or 0 for f in findings if f.verdict == "passed"),
        },
    )
    _record(verdict, step, started)
    for f in verdict.failed + verdict.warnings:
        log.warning("%s: %s", f.verdict, f.sentence())
    return verdict


def _run_gx(run_date: date, checks: tuple[Check, ...], facts: RunFacts) -> list[tuple[Check, Any]]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    out_dir = docs_dir(run_date)
    shutil.rmtree(out_dir, ignore_errors=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="journeyflow",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(out_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },  # fmt: skip
    )
    try:
        source = context.data_sources.add_postgres(
            "warehouse", connection_string=gx_connection_string(warehouse.database_url())
        )
        by_name: dict[str, Check] = {}
        definitions = []
        for table in STAGED_TABLES:
            asset = source.add_table_asset(f"staged_{table}", table_name=table)
            suite = context.suites.add(gx.ExpectationSuite(name=f"staged_{table}"))
            for check in checks:
                if check.table != table:
                    continue
                expectation = check.build(facts, check.min_valid)
                if expectation is None:
                    continue
                expectation.meta = {"check": check.name, "severity": check.severity}
                suite.add_expectation(expectation)
                by_name[check.name] = check
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=f"staged_{table}",
                        data=asset.add_batch_definition_whole_table("batch"),
                        suite=suite,
                    )
                )
            )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name="journeyflow_gate",
                validation_definitions=definitions,
                actions=[UpdateDataDocsAction(name="data_docs")],
                result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
            )
        )
        with progress.bar("quality_gate", "checks", total=len(by_name)) as bar:
            bar.note = "Great Expectations, in the warehouse"
            result = checkpoint.run(run_id=RunIdentifier(run_name=run_date.isoformat()))
            bar.advance(sum(len(r.results) for r in result.run_results.values()))
    except Exception as exc:
        raise GateError(
            f"Great Expectations could not validate the batch of {run_date}: {exc}"
        ) from exc
    out = []
    for run_result in result.run_results.values():
        for r in run_result.results:
            problem = _gx_exception(r.exception_info)
            if problem:
                raise GateError(
                    f"Great Expectations failed to run {r.expectation_config.meta.get('check')}: "
                    f"{problem}"
                )
            out.append((by_name[r.expectation_config.meta["check"]], r))
    return out


def _gx_exception(info: Any) -> str | None:
    """The first exception GX swallowed into a result (flat or per metric), if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "unknown error").splitlines()[0]
    for value in info.values():
        found = _gx_exception(value)
        if found:
            return found
    return None


def _finding(check: Check, r: Any) -> Finding:
    res = r.result or {}
    success = bool(r.success)
    verdict = "passed" if success else ("failed" if check.severity == CRITICAL else "warning")
    unexpected = res.get("unexpected_count")
    observed = res.get("observed_value")
    if check.table and check.column and unexpected is None and isinstance(observed, int):
        unexpected = observed  # unexpected-rows checks count rows as their observed value
    return Finding(
        check=check.name,
        table=check.table,
        column=check.column,
        expectation=r.expectation_config.type,
        severity=check.severity,
        verdict=verdict,
        element_count=res.get("element_count"),
        unexpected_count=unexpected,
        unexpected_percent=res.get("unexpected_percent"),
        min_valid=check.min_valid,
        observed_value=observed,
        description=check.description,
    )


def _record(verdict: Verdict, step: StepResult, started: float) -> None:
    with warehouse.transaction() as conn:
        conn.execute(statement("quality/forget_results"), {"d": verdict.run_date})
        if verdict.findings:
            conn.execute(
                statement("quality/record_result"),
                [
                    {
                        **f.__dict__,
                        "d": verdict.run_date,
                        "observed": None if f.observed_value is None else str(f.observed_value),
                    }
                    for f in verdict.findings
                ],  # fmt: skip
            )
        step.seconds = time.perf_counter() - started
        record_step(conn, verdict.run_date, step)


def latest(run_date: date) -> Verdict:
    """The recorded verdict of D (for the failure message and the summary)."""
    with warehouse.transaction() as conn:
        rows = conn.execute(statement("quality/results"), {"d": run_date}).all()
    return Verdict(run_date, [Finding(*row) for row in rows], docs_dir(run_date) / "index.html")
