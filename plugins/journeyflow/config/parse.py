"""Read and validate ``journeyflow.yaml`` into a ``Config``; errors name the key and the fix.

Every key at every level is known here: an unknown one fails with a "did you mean", every
number has a range, and a wrong type is one line (``validate`` has the kit). A new top-level
section is one field of ``Config``, one function reading its value and one entry of ``SECTIONS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml

from journeyflow.config import paths
from journeyflow.config.campaign import read_campaign
from journeyflow.config.model import (
    RULE_DEFAULTS,
    CampaignsConfig,
    Config,
    ConfigError,
    QualityConfig,
    RunConfig,
    SenderConfig,
    SourceConfig,
)
from journeyflow.config.notify import read_alerts, read_summary
from journeyflow.config.paths import config_path
from journeyflow.config.postal import read_postal
from journeyflow.config.validate import (
    Range,
    Section,
    choice,
    fail,
    listing,
    mapping,
    num,
    number,
    suggestion,
    text,
    unknown,
)

# upper bounds: beyond them PostgreSQL (lock_timeout, intervals) or Python (timedelta) refuse,
# and nobody means them
HOUR = 3600
DAY_MIN = 24 * 60
WEEK_MIN = 7 * DAY_MIN
YEAR_MIN = 365 * DAY_MIN


def read_timezone(value: Any) -> str:
    """``timezone``: an IANA zone name such as Europe/Berlin."""
    name = text(value, "timezone", "Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        guess = suggestion(name, available_timezones())
        hint = f"; did you mean '{guess}'?" if guess else ""
        fail(f"timezone {name!r} is not an IANA zone name (e.g. Europe/Berlin){hint}")
    return name


def read_source(value: Any) -> SourceConfig:
    """``source``: paging, timeouts and retries of the HTTP source."""
    s, d = Section(value, "source", SourceConfig.__dataclass_fields__), SourceConfig()
    base = s.number("backoff_base", d.backoff_base, above=0, at_most=HOUR)
    backoff_max = s.number("backoff_max", d.backoff_max, above=0, at_most=HOUR)
    if backoff_max < base:
        fail(f"source.backoff_max must be a number >= source.backoff_base ({num(base)}), "
             f"got {num(backoff_max)}")  # fmt: skip
    return SourceConfig(
        page_size=s.whole("page_size", d.page_size, at_least=1, at_most=100_000),
        connect_timeout=s.number("connect_timeout", d.connect_timeout, above=0),
        read_timeout=s.number("read_timeout", d.read_timeout, above=0),
        max_retries=s.whole("max_retries", d.max_retries, at_least=0, at_most=100),
        backoff_base=base,
        backoff_max=backoff_max,
        max_pages=s.whole("max_pages", d.max_pages, at_least=1, at_most=10_000_000),
    )


def read_quality(value: Any) -> QualityConfig:
    """``quality``: the bounds of the gate and the severity of each check."""
    from journeyflow.quality.checks import CHECKS

    s, d = Section(value, "quality", QualityConfig.__dataclass_fields__), QualityConfig()
    row_checks = {c.name for c in CHECKS if c.min_valid is not None}
    given = s.section("checks", sorted(c.name for c in CHECKS), "check names to their settings")
    checks: dict[str, dict[str, Any]] = {}
    for name, setting in given.data.items():
        keys = ("severity", "min_valid") if name in row_checks else ("severity",)
        if isinstance(setting, dict) and "min_valid" in setting and name not in row_checks:
            fail(f"quality.checks.{name}.min_valid: {name} passes or fails as a whole, it has "
                 "no share of valid rows; set only its severity")  # fmt: skip
        check = Section(setting, given.where(name), keys, "severity (and min_valid)")
        checks[name] = {}
        if "severity" in check:  # YAML reads an unquoted off as false
            severity = "off" if check.get("severity") is False else check.get("severity")
            checks[name]["severity"] = choice(
                severity, check.where("severity"), ("critical", "warning", "off")
            )
        if "min_valid" in check:
            checks[name]["min_valid"] = check.share("min_valid", above=0)
    history = s.whole("volume_history_runs", d.volume_history_runs, at_least=1)
    min_history = s.whole("volume_min_history", d.volume_min_history, at_least=1)
    if min_history > history:
        fail(f"quality.volume_min_history must be a whole number <= quality.volume_history_runs "
             f"({history}), got {min_history}: the volume checks would never start")  # fmt: skip
    return QualityConfig(
        oldest_event=s.day("oldest_event", d.oldest_event),
        future_grace_hours=s.number("future_grace_hours", d.future_grace_hours, at_least=0),
        volume_history_runs=history,
        volume_min_history=min_history,
        volume_min_rows=s.whole("volume_min_rows", d.volume_min_rows, at_least=0),
        volume_factor=s.number("volume_factor", d.volume_factor, above=1),
        checks=checks,
    )


def read_rules(value: Any) -> dict[str, dict[str, Any]]:
    """``rules``: the rulebook numbers, the defaults of DESIGN.md overridden key by key."""
    from journeyflow.quality.checks import EVENT_TYPES

    s = Section(value, "rules", RULE_DEFAULTS)
    merged: dict[str, dict[str, Any]] = {}
    for name, defaults in RULE_DEFAULTS.items():
        part = s.section(name, defaults)
        merged[name] = {}
        for key, default in defaults.items():
            if key == "points":
                points = part.mapping(key, "event types to points, e.g. {purchase: 20}", default)
                for event in points:
                    if event not in EVENT_TYPES:
                        unknown(event, part.where(key), EVENT_TYPES)
                    number(points[event], f"{part.where(key)}.{event}")
                merged[name][key] = points
            else:
                merged[name][key] = number(part.get(key, default), part.where(key), Range(above=0))
    score = merged["score"]
    if score["hot_from"] <= score["warm_from"]:
        fail(f"rules.score.hot_from must be a number > rules.score.warm_from "
             f"({num(score['warm_from'])}), got {num(score['hot_from'])}")  # fmt: skip
    return merged


CAMPAIGNS_KEYS = ("caps", "keep_decisions_days", "attribution_days", "unsubscribe_url",
                  "message_id_domain", "brand", "sender", "list")  # fmt: skip
SENDER_KEYS = ("from", *(f for f in SenderConfig.__dataclass_fields__ if f != "from_address"))
BRAND_KEYS = ("name", "url", "support_email", "sender_name", "imprint")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")  # fmt: skip


def read_campaigns(value: Any) -> CampaignsConfig:
    """``campaigns``: caps, links, brand, sender; the order of ``list`` is the priority."""
    s, d = Section(value, "campaigns", CAMPAIGNS_KEYS), CampaignsConfig()
    caps = s.section("caps", ("per_run_date", "per_week"))
    domain = s.text("message_id_domain", d.message_id_domain, "shop.example")
    if not DOMAIN.match(domain):
        fail(f"campaigns.message_id_domain must be a domain name like shop.example, got {domain!r}")
    items = s.mapping("list", "campaign names to their settings", {})
    return CampaignsConfig(
        per_run_date=caps.whole("per_run_date", d.per_run_date, at_least=1),
        per_week=caps.whole("per_week", d.per_week, at_least=1),
        keep_decisions_days=s.whole("keep_decisions_days", d.keep_decisions_days, at_least=1),
        attribution_days=s.whole("attribution_days", d.attribution_days, at_least=1, at_most=365),
        unsubscribe_url=unsubscribe_url(s.text("unsubscribe_url", d.unsubscribe_url)),
        message_id_domain=domain,
        brand=read_brand(s.get("brand", {})),
        sender=read_sender(s.get("sender", {})),
        campaigns=tuple(read_campaign(name, spec) for name, spec in items.items()),
    )


def read_brand(value: Any) -> dict[str, Any]:
    """``campaigns.brand``: text per key, or per language ({de: ..., en: ...})."""
    s = Section(value, "campaigns.brand", BRAND_KEYS)
    for key, given in s.data.items():
        where = s.where(key)
        per_language = isinstance(given, dict)
        values = mapping(given, where, "languages") if per_language else {"": given}
        if not values:
            fail(f"{where} must give a value per language, e.g. {{de: ..., en: ...}}, got {{}}")
        for lang, item in values.items():
            at = f"{where}.{lang}" if per_language else where
            if per_language and not re.fullmatch(r"[a-z]{2}", lang):
                fail(f"{where}: {lang!r} is not a language code such as de or en")
            if key == "imprint":
                for i, line in enumerate(listing(item, at, "[Shop GmbH, Street 1, City]")):
                    text(line, f"{at}[{i}]")
                continue
            item = text(item, at)
            if key == "url" and urlsplit(item).scheme not in ("http", "https"):
                fail(f"{at} must be a web address like https://shop.example, got {item!r}")
            if key == "support_email" and "@" not in parseaddr(item)[1]:
                fail(f"{at} must be an email address like help@shop.example, got {item!r}")
    return s.data


def read_sender(value: Any) -> SenderConfig:
    """``campaigns.sender``: how the SMTP sender batches, paces and retries."""
    s, d = Section(value, "campaigns.sender", SENDER_KEYS), SenderConfig()
    sender = s.text("from", d.from_address, "'Shop <news@shop.example>'")
    if "@" not in parseaddr(sender)[1]:
        fail(f"campaigns.sender.from must be an address such as 'Shop <news@shop.example>', "
             f"got {sender!r}")  # fmt: skip
    return SenderConfig(
        from_address=sender,
        batch_size=s.whole("batch_size", d.batch_size, at_least=1),
        connections=s.whole("connections", d.connections, at_least=1, at_most=16),
        shards=s.whole("shards", d.shards, at_least=1, at_most=64),
        rate_per_second=s.number("rate_per_second", d.rate_per_second, at_least=0),
        retries=s.whole("retries", d.retries, at_least=0),
        backoff_seconds=s.number("backoff_seconds", d.backoff_seconds, at_least=0, at_most=HOUR),
        defer_minutes=s.whole("defer_minutes", d.defer_minutes, at_least=0, at_most=YEAR_MIN),
        max_attempts=s.whole("max_attempts", d.max_attempts, at_least=1),
        timeout_seconds=s.number("timeout_seconds", d.timeout_seconds, above=0, at_most=HOUR),
    )


def unsubscribe_url(value: str) -> str:
    """https (RFC 8058 one-click needs it); plain http only for a local endpoint."""
    url = urlsplit(value.strip())
    local = url.hostname in ("localhost", "127.0.0.1", "::1")
    if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and local)):
        fail(
            "campaigns.unsubscribe_url must be an https URL (plain http only for localhost), "
            f"e.g. https://shop.example/journeyflow/u/; got {value!r}"
        )
    return value


TASK_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def read_run(value: Any) -> RunConfig:
    """``run``: task timeouts and how long a second run of a date waits for the first."""
    s, d = Section(value, "run", RunConfig.__dataclass_fields__), RunConfig()
    timeouts = s.mapping("task_timeouts", "task ids to minutes, e.g. {merge: 30}", {})
    for task_id, minutes in timeouts.items():
        if not TASK_ID.match(task_id):
            fail(f"run.task_timeouts: {task_id!r} is not a task id (letters, digits, _ . -)")
        timeouts[task_id] = float(
            number(minutes, f"run.task_timeouts.{task_id}", Range(above=0, at_most=WEEK_MIN))
        )
    return RunConfig(
        task_retries=s.whole("task_retries", d.task_retries, at_least=0, at_most=20),
        retry_delay_minutes=s.number(
            "retry_delay_minutes", d.retry_delay_minutes, above=0, at_most=DAY_MIN
        ),
        task_timeout_minutes=s.number(
            "task_timeout_minutes", d.task_timeout_minutes, above=0, at_most=WEEK_MIN
        ),
        task_timeouts=timeouts,
        lock_wait_minutes=s.number(
            "lock_wait_minutes", d.lock_wait_minutes, at_least=0, at_most=DAY_MIN
        ),
    )


#: Each top-level key and the function that reads its value into the ``Config`` field of the
#: same name; a key left out keeps the field's default.
SECTIONS: dict[str, Callable[[Any], Any]] = {
    "timezone": read_timezone,
    "source": read_source,
    "quality": read_quality,
    "rules": read_rules,
    "campaigns": read_campaigns,
    "postal": read_postal,
    "run": read_run,
    "alerts": read_alerts,
    "summary": read_summary,
}


def parse_config(raw: dict[str, Any]) -> Config:
    """Validate a config mapping; errors name the key and what it should be."""
    top = Section(raw, "", SECTIONS, "sections (" + ", ".join(SECTIONS) + ")")
    fields = {key: read(top.get(key)) for key, read in SECTIONS.items() if key in top}
    config = Config(**fields, raw=raw)
    names = [c.name for c in config.campaigns.campaigns]
    for campaign in config.postal.action_codes:
        if campaign not in names:
            guess = suggestion(campaign, names)
            hint = f"; did you mean '{guess}'?" if guess else ""
            fail(f"postal.action_codes.{campaign} names no campaign of campaigns.list{hint} "
                 f"(campaigns: {', '.join(names) or 'none'})")  # fmt: skip
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML keeps the last of two equal keys without a word; this loader refuses them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float):
                continue  # SafeLoader itself refuses keys that cannot be keys
            if key in seen:
                raise ConfigError(
                    f"{config_path()}: line {key_node.start_mark.line + 1}: the key {key!r} "
                    "is given twice in the same mapping; keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@lru_cache(maxsize=1)
def load_config() -> Config:
    """The parsed ``journeyflow.yaml`` (``config_path()``), read once per process."""
    path = config_path()
    if not path.exists():
        why = paths.missing_project() or "restore it"
        raise ConfigError(f"config file {path} not found; set JOURNEYFLOW_CONFIG, or {why}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except ConfigError:
        raise
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    except ValueError as exc:  # e.g. 2026-02-30: YAML makes it a date, which cannot be
        raise ConfigError(
            f"{path}: a value cannot be read: {exc} (a date must be a real day like 2000-01-01)"
        ) from exc
    return parse_config(raw)
