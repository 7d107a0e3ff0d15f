"""Campaign results: who a campaign's messages reached (and who its holdout kept), how many of
them bought within the attribution window, and the uplift over the holdout.

The nightly run counts every run date whose window is still open (or not counted yet) into
``journeyflow.campaign_results`` (read model ``v_campaign_results``); a window that has closed is
final. ``read_results`` sums the run dates per campaign, step and variant and compares each
variant with the holdout, or, without a holdout, with the step's first variant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from journeyflow import states, warehouse
from journeyflow.config import load_config
from journeyflow.config.model import HOLDOUT
from journeyflow.learn.stats import newcombe, verdict
from journeyflow.runlog import StepResult, record_step
from journeyflow.sqlfile import statement


def fill(run_date: date) -> StepResult:
    """Count the results of every run date up to D whose attribution window is not final."""
    result = StepResult("measure_results")
    started = time.perf_counter()
    cfg = load_config()
    with warehouse.transaction() as conn:
        dates = [
            r[0]
            for r in conn.execute(
                statement("results/open_dates"),
                {
                    "d": run_date,
                    "days": cfg.campaigns.attribution_days,
                    "members": list(states.MEASURED),
                },  # fmt: skip
            )
        ]
        conn.execute(statement("results/forget"), {"dates": dates})
        if dates:
            result.rows_out = conn.execute(
                statement("results/fill"),
                {
                    "dates": dates,
                    "tz": cfg.timezone,
                    "days": cfg.campaigns.attribution_days,
                    "cutoff": cfg.cutoff(run_date),
                    "members": list(states.MEASURED),
                },
            ).rowcount
        result.rows_in = len(dates)
        result.details = {"run_dates_counted": [d.isoformat() for d in dates]}
        result.seconds = time.perf_counter() - started
        record_step(conn, run_date, result)
    return result


@dataclass
class Row:
    """One campaign, step and variant, summed over its run dates."""

    campaign: str
    step: int
    variant: str
    contacts: int
    converted: int
    revenue: float
    first_run_date: date
    last_run_date: date
    open_dates: int
    against: str | None = None  # what the uplift compares with: "holdout" or a variant
    uplift: float | None = None
    low: float | None = None
    high: float | None = None
    verdict: str | None = None

    @property
    def rate(self) -> float:
        return self.converted / self.contacts if self.contacts else 0.0

    @property
    def revenue_per_contact(self) -> float:
        return self.revenue / self.contacts if self.contacts else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign, "step": self.step, "variant": self.variant,
            "contacts": self.contacts, "converted": self.converted,
            "conversion_rate": round(self.rate, 6), "revenue": round(self.revenue, 2),
            "revenue_per_contact": round(self.revenue_per_contact, 4),
            "first_run_date": self.first_run_date.isoformat(),
            "last_run_date": self.last_run_date.isoformat(), "open_run_dates": self.open_dates,
            "compared_with": self.against,
            "uplift": None if self.uplift is None else round(self.uplift, 6),
            "uplift_ci95": None if self.low is None else [round(self.low, 6), round(self.high, 6)],
            "uplift_low": None if self.low is None else round(self.low, 6),
            "uplift_high": None if self.high is None else round(self.high, 6),
            "verdict": self.verdict,
        }  # fmt: skip


@dataclass
class Results:
    run_date: date | None
    attribution_days: int
    rows: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_date": None if self.run_date is None else self.run_date.isoformat(),
            "attribution_days": self.attribution_days,
            "method": METHOD,
            "rows": [r.as_dict() for r in self.rows],
        }


METHOD = ("uplift = conversion rate of the variant minus that of the holdout (or, without a "
          "holdout, of the step's first variant); 95 % confidence interval by Newcombe's hybrid "
          "score method for a difference of two proportions")  # fmt: skip


def read_results(run_date: date | None = None, campaign: str | None = None) -> Results:
    """Results up to D (default: every run date) per campaign, step and variant, compared."""
    days = load_config().campaigns.attribution_days
    with warehouse.transaction() as conn:
        params = {"d": run_date or date.max, "campaign": campaign}
        rows = [Row(*r) for r in conn.execute(statement("results/read"), params)]
    for row in rows:
        row.revenue = float(row.revenue)
    compare(rows)
    return Results(run_date, days, rows)


def compare(rows: list[Row]) -> None:
    """Fill each row's uplift against the holdout of its step, or its step's first variant."""
    steps: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        steps.setdefault((row.campaign, row.step), []).append(row)
    for group in steps.values():
        base = next((r for r in group if r.variant == HOLDOUT), None)
        if base is None:
            if len(group) < 2:
                continue
            base = group[0]
        against = "the holdout" if base.variant == HOLDOUT else f"variant {base.variant}"
        for row in group:
            if row is base:
                continue
            row.against = base.variant
            if row.contacts and base.contacts:
                u = newcombe(row.converted, row.contacts, base.converted, base.contacts)
                row.uplift, row.low, row.high = u.difference, u.low, u.high
            row.verdict = verdict(row.converted, row.contacts, base.converted, base.contacts,
                                  against)  # fmt: skip
