"""The typed settings of ``journeyflow.yaml``: one frozen object, parsed once per process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeyflow.config import paths

BUCKETS = 10_000  # holdouts and variants split contacts into this many buckets (DESIGN.md)
MAIN_VARIANT = "main"  # the variant of a step without variants
HOLDOUT = "holdout"  # the control group's name where variants are listed


class ConfigError(ValueError):
    """The config file has a value that cannot work; the message names it and the fix."""


@dataclass(frozen=True)
class SourceConfig:
    page_size: int = 1000
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0  # also the longest Retry-After journeyflow waits for
    max_pages: int = 100_000  # per stream and run: a source that never ends the cursor fails


@dataclass(frozen=True)
class QualityConfig:
    oldest_event: date = date(2000, 1, 1)
    future_grace_hours: float = 24.0
    volume_history_runs: int = 7
    volume_min_history: int = 3
    volume_min_rows: int = 1000
    volume_factor: float = 10.0
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Offer:
    code: str
    percent: int
    valid_days: int = 14


@dataclass(frozen=True)
class Campaign:
    """One campaign of ``campaigns.list``: who (sql/campaigns/<name>.sql), what and how often."""

    name: str
    channels: tuple[str, ...] = ("email",)
    anchor: str | None = None  # consent_confirmed_at | first_order_at: step delays count from it
    steps: tuple[tuple[int, int], ...] = ((1, 0),)  # (step number, delay in days)
    repeat_days: int | None = None  # None: every step once per contact
    tone: str = "informal"  # formal | informal (the greeting)
    offer: Offer | None = None
    holdout: float = 0.0  # the share kept as a control group: decided, never messaged
    variants: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)  # step -> split
    days_before: int = 0  # bound as :days_before in the audience query (birthday)

    @property
    def audience_file(self) -> Path:
        return paths.SQL_DIR / "campaigns" / f"{self.name}.sql"

    @property
    def holdout_buckets(self) -> int:
        """Buckets ``0 .. holdout_buckets - 1`` are the control group."""
        return round(self.holdout * BUCKETS)

    def variant_ranges(self, step: int) -> list[tuple[str, int, int]]:
        """``(variant, first bucket, bucket after the last)`` of a step: the buckets above the
        holdout, split in order by weight."""
        split = self.variants.get(step, ((MAIN_VARIANT, 1),))
        low = self.holdout_buckets
        span, total = BUCKETS - low, sum(w for _, w in split)
        ranges, cumulative = [], 0
        for name, weight in split:
            start = low + span * cumulative // total
            cumulative += weight
            ranges.append((name, start, low + span * cumulative // total))
        return ranges

    def variant_names(self, step: int) -> list[str]:
        return [name for name, _, _ in self.variant_ranges(step)]


@dataclass(frozen=True)
class SenderConfig:
    from_address: str = "Lichtblick Fotoversand <news@lichtblick.example>"
    batch_size: int = 200
    connections: int = 2  # SMTP connections (and workers) per campaign and shard
    shards: int = 1  # send tasks per campaign (mapped): N Celery workers send one campaign
    rate_per_second: float = 0.0  # 0: as fast as the server accepts
    retries: int = 3  # per message and run, for 4xx answers and lost connections
    backoff_seconds: float = 2.0  # doubles per retry
    defer_minutes: int = 60  # a message still refused after the retries waits this long
    max_attempts: int = 10  # ... and fails after this many attempts over all runs
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class CampaignsConfig:
    per_run_date: int = 1  # campaign messages (emails, letters) per contact and run date
    per_week: int = 3  # ... and in the run dates D-6..D
    keep_decisions_days: int = 90  # campaign_decisions older than D minus this are deleted
    attribution_days: int = 7  # a purchase this many days after a run date counts for its messages
    unsubscribe_url: str = "http://localhost:8080/journeyflow/u/"
    message_id_domain: str = "lichtblick.example"
    brand: dict[str, Any] = field(default_factory=dict)
    sender: SenderConfig = field(default_factory=SenderConfig)
    campaigns: tuple[Campaign, ...] = ()

    def get(self, name: str) -> Campaign:
        from journeyflow.config.paths import config_path

        for campaign in self.campaigns:
            if campaign.name == name:
                return campaign
        known = ", ".join(c.name for c in self.campaigns)
        raise ConfigError(f"{config_path()}: no campaign {name!r} in campaigns.list ({known})")


DEFAULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Kundennummer", "contact_id"),
    ("Anrede", "salutation"),
    ("Titel", "title"),
    ("Vorname", "first_name"),
    ("Nachname", "last_name"),
    ("Firma", "company"),
    ("Strasse", "street"),
    ("Hausnummer", "house_number"),
    ("PLZ", "postal_code"),
    ("Ort", "city"),
    ("Land", "country"),
    ("Aktion", "action"),
)
DEFAULT_MIN_PIECES = 200
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class VendorProfile:
    """The shape of one print vendor's mailing file."""

    name: str
    delimiter: str = ";"
    encoding: str = "utf-8"
    columns: list[tuple[str, str]] = field(default_factory=lambda: list(DEFAULT_COLUMNS))
    line_terminator: str = "\r\n"
    min_pieces: int = DEFAULT_MIN_PIECES

    @property
    def headers(self) -> list[str]:
        return [header for header, _ in self.columns]

    @property
    def fields(self) -> list[str]:
        return [name for _, name in self.columns]


@dataclass(frozen=True)
class PostalConfig:
    """``postal:``: the vendor profile the drop gets, every profile, and the action codes."""

    profile: VendorProfile = field(default_factory=lambda: VendorProfile(DEFAULT_PROFILE))
    profiles: dict[str, VendorProfile] = field(default_factory=dict)
    action_codes: dict[str, str] = field(default_factory=dict)

    def action_code(self, campaign: str) -> str:
        """The value of the ``action`` field for a campaign: its code, or its name."""
        return self.action_codes.get(campaign, campaign)


@dataclass(frozen=True)
class RunConfig:
    """``run:``: bounds of one nightly run."""

    task_retries: int = 2  # a failed task is tried again this often under the scheduler ...
    retry_delay_minutes: float = 5.0  # ... this long after it failed
    task_timeout_minutes: float = 120.0  # execution_timeout of every task ...
    task_timeouts: dict[str, float] = field(default_factory=dict)  # ... or of these task ids
    lock_wait_minutes: float = 30.0  # a second run of the same date waits this long, then fails

    def timeout_minutes(self, task_id: str) -> float:
        return self.task_timeouts.get(task_id, self.task_timeout_minutes)


@dataclass(frozen=True)
class AlertsConfig:
    """``alerts:``: who gets an email when a night needs a person (a webhook: connection
    ``journeyflow_alerts``)."""

    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class SummaryConfig:
    """``summary:``: the morning summary after a good night."""

    to: tuple[str, ...] = ()
    language: str = "de"
    cockpit_url: str | None = None  # e.g. https://airflow.shop.example/journeyflow


RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "score": {"window_days": 365, "half_life_days": 90, "warm_from": 10, "hot_from": 50,
              "points": {"page_view": 1, "comment": 2, "email_open": 1, "email_click": 3,
                         "newsletter_signup": 10, "purchase": 20, "review": 5, "referral": 15}},
    "flags": {"email_dead_sends": 3, "email_dead_days": 180, "bad_payer_days": 365,
              "bad_review_max_rating": 2},
    "phases": {"at_risk_last_order_days": 180, "at_risk_quiet_days": 90,
               "promoter_referral_days": 365, "advocate_min_orders": 3,
               "advocate_min_avg_rating": 4, "advocate_bad_rating": 2,
               "ascension_first_order_days": 30, "subscription_days": 14},
}  # fmt: skip


@dataclass(frozen=True)
class Config:
    timezone: str = "Europe/Berlin"
    source: SourceConfig = field(default_factory=SourceConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    rules: dict[str, dict[str, Any]] = field(default_factory=lambda: RULE_DEFAULTS)
    campaigns: CampaignsConfig = field(default_factory=CampaignsConfig)
    postal: PostalConfig = field(default_factory=PostalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    raw: dict[str, Any] = field(default_factory=dict)

    def rule_params(self, run_date: date) -> dict[str, Any]:
        """Bound parameters for the rulebook SQL: the cut-off and every number of ``rules``."""
        params: dict[str, Any] = {"cutoff": self.cutoff(run_date), "run_date": run_date}
        for section, values in self.rules.items():
            for key, value in values.items():
                name = (
                    "score_points"
                    if key == "points"
                    else (f"score_{key}" if section == "score" else key)
                )
                params[name] = json.dumps(value) if isinstance(value, dict) else value
        return params

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def cutoff(self, run_date: date) -> datetime:
        """T: the start of D+1 in the configured timezone. Rules only see events before T."""
        return datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=self.tz)
