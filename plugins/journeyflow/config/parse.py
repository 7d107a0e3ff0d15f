"""Read and validate ``journeyflow.yaml`` into a ``Config``; errors name the key and the fix."""

from __future__ import annotations

from datetime import date
from email.utils import parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from journeyflow.config.model import (
    RULE_DEFAULTS,
    Campaign,
    CampaignsConfig,
    Config,
    ConfigError,
    Offer,
    QualityConfig,
    SenderConfig,
    SourceConfig,
)
from journeyflow.config.paths import config_path
from journeyflow.config.postal import parse_postal
from journeyflow.states import Channel


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
        timezone=str(tz),
        source=source,
        quality=_quality(raw.get("quality") or {}),
        rules=_rules(raw.get("rules") or {}),
        campaigns=_campaigns(raw.get("campaigns") or {}),
        postal=parse_postal(raw),
        raw=raw,
    )


def _rules(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rulebook numbers: the defaults of DESIGN.md, overridden key by key."""
    if not isinstance(r, dict):
        raise ConfigError(f"{config_path()}: rules must be a mapping of score, flags, phases")
    merged: dict[str, dict[str, Any]] = {}
    for section, defaults in RULE_DEFAULTS.items():
        given = r.get(section) or {}
        if not isinstance(given, dict) or set(given) - set(defaults):
            raise ConfigError(
                f"{config_path()}: unknown keys in rules.{section}: "
                f"{sorted(set(given) - set(defaults))}; known: {', '.join(sorted(defaults))}"
            )
        merged[section] = {**defaults, **given}
        for key, value in merged[section].items():
            if key == "points":
                if not isinstance(value, dict) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
                ):
                    raise ConfigError(
                        f"{config_path()}: rules.score.points must map event types to numbers"
                    )
            else:
                _positive(f"rules.{section}", key, value)
    if set(r) - set(RULE_DEFAULTS):
        raise ConfigError(
            f"{config_path()}: unknown sections in rules: {sorted(set(r) - set(RULE_DEFAULTS))}"
        )
    return merged


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


ANCHORS = ("consent_confirmed_at", "first_order_at")
CAMPAIGN_KEYS = {"channels", "anchor", "steps", "repeat", "tone", "offer"}


def _campaigns(c: dict[str, Any]) -> CampaignsConfig:
    """Validate ``campaigns:``; the order of ``campaigns.list`` is the priority under the caps."""
    where = f"{config_path()}: campaigns"
    if not isinstance(c, dict):
        raise ConfigError(f"{where} must be a mapping")
    known = {"caps", "keep_decisions_days", "unsubscribe_url", "message_id_domain", "brand",
             "sender", "list"}  # fmt: skip
    if set(c) - known:
        raise ConfigError(f"{where}: unknown keys {sorted(set(c) - known)}")
    caps = c.get("caps") or {}
    if set(caps) - {"per_run_date", "per_week"}:
        raise ConfigError(f"{where}.caps takes per_run_date and per_week")
    snd = c.get("sender") or {}
    fields = {f: getattr(SenderConfig(), f) for f in SenderConfig.__dataclass_fields__}
    if set(snd) - set(fields) - {"from"}:
        raise ConfigError(f"{where}.sender: unknown keys {sorted(set(snd) - set(fields))}")
    values = {k: snd.get(k, v) for k, v in fields.items() if k != "from_address"}
    for key in ("batch_size", "timeout_seconds", "max_attempts", "connections"):
        _positive("campaigns.sender", key, values[key])
    sender = SenderConfig(from_address=str(snd.get("from", fields["from_address"])), **values)
    if "@" not in parseaddr(sender.from_address)[1]:
        raise ConfigError(
            f"{where}.sender.from must be an address such as 'Shop <news@shop.example>', "
            f"got {sender.from_address!r}"
        )
    items = c.get("list") or {}
    if not isinstance(items, dict):
        raise ConfigError(f"{where}.list must map campaign names to their settings")
    campaigns = tuple(_campaign(name, spec or {}) for name, spec in items.items())
    defaults = CampaignsConfig()
    return CampaignsConfig(
        per_run_date=_positive("campaigns.caps", "per_run_date", caps.get("per_run_date", 1), int),
        per_week=_positive("campaigns.caps", "per_week", caps.get("per_week", 3), int),
        keep_decisions_days=_positive(
            "campaigns",
            "keep_decisions_days",
            c.get("keep_decisions_days", defaults.keep_decisions_days),
            int,
        ),
        unsubscribe_url=_unsubscribe_url(c.get("unsubscribe_url", defaults.unsubscribe_url)),
        message_id_domain=str(c.get("message_id_domain", defaults.message_id_domain)),
        brand=dict(c.get("brand") or {}),
        sender=sender,
        campaigns=campaigns,
    )


def _unsubscribe_url(value: Any) -> str:
    """https (RFC 8058 one-click needs it); plain http only for a local endpoint."""
    url = urlsplit(str(value).strip())
    local = url.hostname in ("localhost", "127.0.0.1", "::1")
    if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and local)):
        raise ConfigError(
            f"{config_path()}: campaigns.unsubscribe_url must be an https URL (plain http only "
            f"for localhost), e.g. https://shop.example/journeyflow/u/; got {value!r}"
        )
    return str(value)


def _campaign(name: str, spec: dict[str, Any]) -> Campaign:
    where = f"{config_path()}: campaigns.list.{name}"
    if not str(name).replace("_", "").isalnum() or not str(name).islower():
        raise ConfigError(f"{where}: a campaign name is lower-case letters, digits and _")
    if not isinstance(spec, dict) or set(spec) - CAMPAIGN_KEYS:
        raise ConfigError(f"{where}: known keys are {', '.join(sorted(CAMPAIGN_KEYS))}")
    channels = tuple(spec.get("channels", [Channel.EMAIL.value]))
    if not channels or set(channels) - {c.value for c in Channel}:
        raise ConfigError(f"{where}.channels must list email and/or postal")
    anchor = spec.get("anchor")
    if anchor is not None and anchor not in ANCHORS:
        raise ConfigError(f"{where}.anchor must be one of {', '.join(ANCHORS)} (or left out)")
    raw_steps = spec.get("steps", [0])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError(f"{where}.steps must list the delays in days, e.g. [0, 3, 7]")
    delays = []
    for delay in raw_steps:
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise ConfigError(f"{where}.steps: {delay!r} is not a delay in whole days >= 0")
        delays.append(delay)
    if delays != sorted(delays):
        raise ConfigError(f"{where}.steps: delays must not decrease, got {delays}")
    repeat = spec.get("repeat", "once")
    if repeat == "once":
        repeat_days = None
    elif isinstance(repeat, dict) and set(repeat) == {"every_days"}:
        repeat_days = _positive(f"campaigns.list.{name}.repeat", "every_days",
                                repeat["every_days"], int)  # fmt: skip
        if len(delays) > 1:
            raise ConfigError(f"{where}: a repeating campaign has one step")
    else:
        raise ConfigError(f"{where}.repeat must be 'once' or {{every_days: N}}")
    tone = spec.get("tone", "informal")
    if tone not in ("formal", "informal"):
        raise ConfigError(f"{where}.tone must be formal or informal")
    offer = spec.get("offer")
    if offer is not None:
        if not isinstance(offer, dict) or not {"code", "percent"} <= set(offer):
            raise ConfigError(f"{where}.offer needs code and percent (valid_days optional)")
        offer = Offer(
            code=str(offer["code"]),
            percent=_positive(f"campaigns.list.{name}.offer", "percent", offer["percent"], int),
            valid_days=_positive(
                f"campaigns.list.{name}.offer", "valid_days", offer.get("valid_days", 14), int
            ),  # fmt: skip
        )
    campaign = Campaign(
        name=name,
        channels=channels,
        anchor=anchor,
        steps=tuple((i + 1, d) for i, d in enumerate(delays)),
        repeat_days=repeat_days,
        tone=tone,
        offer=offer,
    )
    if not campaign.audience_file.exists():
        raise ConfigError(
            f"{where}: its audience query {campaign.audience_file} is missing; "
            f"add sql/campaigns/{name}.sql"
        )
    return campaign
