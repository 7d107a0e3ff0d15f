"""Where journeyflow keeps its things, and the rulebook/config file it reads.

Everything that marketing changes lives in ``journeyflow.yaml`` at the repository root (override
with ``JOURNEYFLOW_CONFIG``). Local state (embedded database, Airflow metadata, outbox, postal drop)
lives in ``$JOURNEYFLOW_HOME``, default ``<repo>/.journeyflow``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "sql"
DAGS_DIR = REPO_ROOT / "dags"


class ConfigError(ValueError):
    """The config file has a value that cannot work; the message names it and the fix."""


def home() -> Path:
    """The folder for local state: ``$JOURNEYFLOW_HOME`` or ``<repo>/.journeyflow``."""
    path = Path(os.environ.get("JOURNEYFLOW_HOME") or REPO_ROOT / ".journeyflow").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_dir() -> Path:
    """A private runtime folder (``XDG_RUNTIME_DIR``) for lock files, unless one is set."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = home() / "run"
        path.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(path)
    return Path(os.environ["XDG_RUNTIME_DIR"])


@dataclass(frozen=True)
class SourceConfig:
    page_size: int = 1000
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True)
class QualityConfig:
    oldest_event: date = date(2000, 1, 1)
    future_grace_hours: float = 24.0
    volume_history_runs: int = 7
    volume_min_history: int = 3
    volume_min_rows: int = 1000
    volume_factor: float = 10.0
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    raw: dict[str, Any] = field(default_factory=dict)

    def rule_params(self, run_date: date) -> dict[str, Any]:
        """Bound parameters for the rulebook SQL: the cut-off and every number of ``rules``."""
        import json

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


def config_path() -> Path:
    return Path(os.environ.get("JOURNEYFLOW_CONFIG") or REPO_ROOT / "journeyflow.yaml")


def _positive(section: str, key: str, value: Any, kind: type = float) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(
            f"{config_path()}: {section}.{key} must be a positive number, got {value!r}"
        )
    return kind(value)


def parse_config(raw: dict[str, Any]) -> Config:
    """Validate a config mapping; errors name the key and what it should be."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path()}: the top level must be a mapping of sections")
    tz = raw.get("timezone", "Europe/Berlin")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{config_path()}: timezone {tz!r} is not an IANA zone name (e.g. Europe/Berlin)"
        ) from exc
    src = raw.get("source") or {}
    unknown = set(src) - set(SourceConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{config_path()}: unknown keys in source: {sorted(unknown)}")
    source = SourceConfig(
        page_size=_positive("source", "page_size", src.get("page_size", 1000), int),
        connect_timeout=_positive("source", "connect_timeout", src.get("connect_timeout", 5.0)),
        read_timeout=_positive("source", "read_timeout", src.get("read_timeout", 60.0)),
        max_retries=int(src.get("max_retries", 5)),
        backoff_base=_positive("source", "backoff_base", src.get("backoff_base", 1.0)),
        backoff_max=_positive("source", "backoff_max", src.get("backoff_max", 60.0)),
    )
    return Config(
        timezone=str(tz), source=source, quality=_quality(raw.get("quality") or {}), raw=raw
    )


def _quality(q: dict[str, Any]) -> QualityConfig:
    from journeyflow.quality.checks import CHECK_NAMES

    known = set(QualityConfig.__dataclass_fields__)
    if set(q) - known:
        raise ConfigError(f"{config_path()}: unknown keys in quality: {sorted(set(q) - known)}")
    oldest = q.get("oldest_event", date(2000, 1, 1))
    if not isinstance(oldest, date):
        raise ConfigError(f"{config_path()}: quality.oldest_event must be a date like 2000-01-01")
    checks = q.get("checks") or {}
    for name, setting in checks.items():
        where = f"{config_path()}: quality.checks.{name}"
        if name not in CHECK_NAMES:
            raise ConfigError(
                f"{where} is not a check; known checks: {', '.join(sorted(CHECK_NAMES))}"
            )
        if not isinstance(setting, dict) or set(setting) - {"severity", "min_valid"}:
            raise ConfigError(f"{where} takes only severity and min_valid")
        if setting.get("severity", "critical") not in ("critical", "warning", "off"):
            raise ConfigError(f"{where}.severity must be critical, warning or off")
        share = setting.get("min_valid", 1.0)
        if not isinstance(share, int | float) or not 0 < share <= 1:
            raise ConfigError(f"{where}.min_valid must be a share between 0 and 1, e.g. 0.95")
    return QualityConfig(
        oldest_event=oldest,
        future_grace_hours=_positive(
            "quality", "future_grace_hours", q.get("future_grace_hours", 24)
        ),
        volume_history_runs=_positive(
            "quality", "volume_history_runs", q.get("volume_history_runs", 7), int
        ),
        volume_min_history=_positive(
            "quality", "volume_min_history", q.get("volume_min_history", 3), int
        ),
        volume_min_rows=int(q.get("volume_min_rows", 1000)),
        volume_factor=_positive("quality", "volume_factor", q.get("volume_factor", 10)),
        checks=checks,
    )


@lru_cache(maxsize=1)
def load_config() -> Config:
    path = config_path()
    if not path.exists():
        raise ConfigError(f"config file {path} not found; set JOURNEYFLOW_CONFIG or restore it")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(raw)
