"""Config validation: nothing silent. A wrong value, an unknown key or a wrong type is one
ConfigError line that starts with the config file and names the key and what it must be."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import yaml

from journeyflow import cli
from journeyflow.config import ConfigError, RunConfig, config_path, load_config, parse_config


def repository_raw() -> dict[str, Any]:
    return yaml.safe_load(config_path().read_text(encoding="utf-8"))


REPOSITORY = repository_raw()


def walk(raw: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    """The mapping holding the last key of ``dotted`` (created on the way), and that key."""
    *parents, last = dotted.split(".")
    for key in parents:
        raw = raw.setdefault(key, {})
    return raw, last


def put(dotted: str, value: Any):
    def change(raw: dict[str, Any]) -> None:
        holder, key = walk(raw, dotted)
        holder[key] = value

    return change


def remove(dotted: str):
    def change(raw: dict[str, Any]) -> None:
        holder, key = walk(raw, dotted)
        del holder[key]

    return change


def rename(dotted: str, new: str):
    def change(raw: dict[str, Any]) -> None:
        holder, key = walk(raw, dotted)
        holder[new] = holder.pop(key)

    return change


def case(change, fragment: str, id: str):
    return pytest.param(change, fragment, id=id)


WHOLE_GE0 = "must be a whole number >= 0"
POSITIVE = "must be a positive number"
RETRIES = "must be a whole number from 0 to 100"
UP_TO_HOUR = "must be a number > 0 and <= 3600"
LIST = "campaigns.list"
SENDER = "campaigns.sender"
CHECK = "quality.checks.contacts_email_syntax"
OFFER = "campaigns.list.upsell.offer"
PROFILE = "postal.profiles.latin1_vendor"

BROKEN = [
    # the top level
    case(rename("campaigns", "campagins"),
         "unknown key 'campagins' at the top level; did you mean 'campaigns'? (known: ", "typo"),
    case(put("Campaigns", {}), "unknown key 'Campaigns' at the top level; did you mean "
         "'campaigns'?", "capitalised"),
    case(put("timezone", "Mars/Olympus"), "timezone 'Mars/Olympus' is not an IANA zone", "tz"),
    case(put("timezone", "Europe/Berln"), "did you mean 'Europe/Berlin'?", "tz-typo"),
    case(put("timezone", 1), "timezone must be text, e.g. Europe/Berlin, got 1", "tz-number"),
    # source
    case(rename("source.read_timeout", "read_timout"),
         "unknown key source.read_timout; did you mean 'read_timeout'?", "source-typo"),
    case(put("source", None), "source must be a mapping of page_size", "source-null"),
    case(put("source", [1, 2]), "source must be a mapping of page_size, connect_timeout, "
         "read_timeout, max_retries, backoff_base, backoff_max, max_pages, got a list [1, 2]",
         "source-list"),
    case(put("source.max_retries", "five"), f"source.max_retries {RETRIES}, got 'five'",
         "retries-word"),
    case(put("source.max_retries", -1), f"source.max_retries {RETRIES}, got -1", "retries-neg"),
    case(put("source.max_retries", 2.5), f"source.max_retries {RETRIES}, got 2.5",
         "retries-fraction"),
    case(put("source.max_retries", True), f"source.max_retries {RETRIES}, got true", "bool"),
    case(put("source.page_size", 0),
         "source.page_size must be a whole number from 1 to 100000, got 0", "page-size-0"),
    case(put("source.page_size", 200_000), "from 1 to 100000, got 200000", "page-size-big"),
    case(put("source.connect_timeout", 0), f"source.connect_timeout {POSITIVE}, got 0",
         "connect-timeout-0"),
    case(put("source.read_timeout", -5), f"source.read_timeout {POSITIVE}, got -5",
         "timeout-negative"),
    case(put("source.read_timeout", None), f"source.read_timeout {POSITIVE}, got nothing (null)",
         "timeout-null"),
    case(put("source.read_timeout", "60s"), f"source.read_timeout {POSITIVE}, got '60s'",
         "timeout-unit"),
    case(put("source.backoff_base", 0), f"source.backoff_base {UP_TO_HOUR}", "backoff-base-0"),
    case(put("source.backoff_max", 0.5),
         "source.backoff_max must be a number >= source.backoff_base (1), got 0.5", "backoff"),
    case(put("source.max_pages", 0),
         "source.max_pages must be a whole number from 1 to 10000000, got 0",
         "max-pages-0"),
    # quality
    case(rename("quality.volume_factor", "volume_factr"),
         "unknown key quality.volume_factr; did you mean 'volume_factor'?", "quality-typo"),
    case(put("quality.oldest_event", "yesterday"),
         "quality.oldest_event must be a date like 2000-01-01, got 'yesterday'", "date-word"),
    case(put("quality.oldest_event", "2000-13-01"), "got '2000-13-01'", "date-month-13"),
    case(put("quality.oldest_event", 2000), "must be a date like 2000-01-01, got 2000",
         "date-year"),
    case(put("quality.future_grace_hours", -1),
         "quality.future_grace_hours must be a number >= 0, got -1", "grace-negative"),
    case(put("quality.volume_history_runs", 0),
         "quality.volume_history_runs must be a whole number >= 1, got 0", "history-0"),
    case(put("quality.volume_min_history", 9),
         "quality.volume_min_history must be a whole number <= quality.volume_history_runs (7)",
         "min-history-above-runs"),
    case(put("quality.volume_min_rows", -1), f"quality.volume_min_rows {WHOLE_GE0}, got -1",
         "min-rows-negative"),
    case(put("quality.volume_factor", 1), "quality.volume_factor must be a number > 1, got 1",
         "factor-1"),
    case(put("quality.checks.contacts_emial_syntax", {}),
         "unknown key quality.checks.contacts_emial_syntax; did you mean "
         "'contacts_email_syntax'?", "unknown-check"),
    case(put(f"{CHECK}.severty", "off"),
         f"unknown key {CHECK}.severty; did you mean 'severity'? (known in {CHECK}: min_valid, "
         "severity)", "check-key-typo"),
    case(put(f"{CHECK}.severity", "critcal"), f"{CHECK}.severity must be one of critical, "
         "warning, off, got 'critcal'; did you mean 'critical'?", "severity"),
    case(put(f"{CHECK}.min_valid", 1.5),
         f"{CHECK}.min_valid must be a share > 0 and <= 1 (e.g. 0.95 for 95%), got 1.5",
         "share-above-1"),
    case(put(f"{CHECK}.min_valid", 0), f"{CHECK}.min_valid must be a share > 0", "share-0"),
    case(put(f"{CHECK}.min_valid", -0.1), "got -0.1", "share-negative"),
    case(put(f"{CHECK}.min_valid", "95%"), "got '95%'", "share-as-text"),
    case(put(f"{CHECK}.min_valid", True), "got true", "share-bool"),
    case(put("quality.checks.contacts_volume", {"min_valid": 0.5}),
         "quality.checks.contacts_volume.min_valid: contacts_volume passes or fails as a whole",
         "min-valid-of-volume-check"),
    case(put("quality.checks", ["contacts_email_syntax"]),
         "quality.checks must be a mapping of check names", "checks-list"),
    case(put(CHECK, "warning"), f"{CHECK} must be a mapping of severity", "check-string"),
    # rules
    case(rename("rules.phases", "phase"), "unknown key rules.phase; did you mean 'phases'?",
         "rules-typo"),
    case(put("rules.phases.subscribtion_days", 21),
         "unknown key rules.phases.subscribtion_days; did you mean 'subscription_days'?",
         "phases-typo"),
    case(put("rules.flags.bad_payer_days", -1),
         f"rules.flags.bad_payer_days {POSITIVE}, got -1", "rule-negative"),
    case(put("rules.score.half_life_days", "90 days"), "rules.score.half_life_days must be",
         "rule-text"),
    case(put("rules.phases.advocate_min_orders", False), "got false", "rule-bool"),
    case(put("rules.score.points.purchse", 20),
         "unknown key rules.score.points.purchse; did you mean 'purchase'?", "event-type-typo"),
    case(put("rules.score.points.purchase", "many"),
         "rules.score.points.purchase must be a number, got 'many'", "points-text"),
    case(put("rules.score.points", [1, 2]), "rules.score.points must be a mapping of event types",
         "points-list"),
    case(put("rules.score.hot_from", 5),
         "rules.score.hot_from must be a number > rules.score.warm_from (10), got 5", "hot-warm"),
    case(put("rules.flags", 3), "rules.flags must be a mapping", "flags-number"),
    # campaigns
    case(rename("campaigns.sender", "sendr"),
         "unknown key campaigns.sendr; did you mean 'sender'?", "campaigns-typo"),
    case(put("campaigns.caps.per_day", 1),
         "unknown key campaigns.caps.per_day; did you mean 'per_run_date'?", "caps-typo"),
    case(put("campaigns.caps.per_week", 0),
         "campaigns.caps.per_week must be a whole number >= 1, got 0", "per-week-0"),
    case(put("campaigns.caps.per_run_date", 1.5), "got 1.5", "per-run-date-fraction"),
    case(put("campaigns.keep_decisions_days", 0),
         "campaigns.keep_decisions_days must be a whole number >= 1", "keep-days-0"),
    case(put("campaigns.unsubscribe_url", "http://shop.example/u/"), "must be an https URL",
         "unsubscribe-http"),
    case(put("campaigns.unsubscribe_url", 5), "campaigns.unsubscribe_url must be text, got 5",
         "unsubscribe-number"),
    case(put("campaigns.message_id_domain", "not a domain"),
         "campaigns.message_id_domain must be a domain name like shop.example", "domain"),
    case(rename("campaigns.brand.imprint", "imprnt"),
         "unknown key campaigns.brand.imprnt; did you mean 'imprint'?", "brand-typo"),
    case(put("campaigns.brand.imprint", "Lichtblick GmbH"),
         "campaigns.brand.imprint must be a list, e.g. [", "imprint-string"),
    case(put("campaigns.brand.sender_name.de", 5),
         "campaigns.brand.sender_name.de must be text, got 5", "brand-number"),
    case(put("campaigns.brand", ["Lichtblick"]), "campaigns.brand must be a mapping",
         "brand-list"),
    case(put("campaigns.brand.url", "lichtblick.example"), "campaigns.brand.url must be a web "
         "address like https://shop.example, got 'lichtblick.example'", "brand-url"),
    case(put("campaigns.brand.support_email", "hilfe"),
         "campaigns.brand.support_email must be an email address", "brand-email"),
    case(put("campaigns.brand.sender_name", {"deu": "Katrin"}),
         "campaigns.brand.sender_name: 'deu' is not a language code such as de or en",
         "brand-language"),
    case(put("campaigns.brand.sender_name", {}), "campaigns.brand.sender_name must give a value "
         "per language", "brand-no-language"),
    case(put(f"{SENDER}.retries", -1), f"{SENDER}.retries {WHOLE_GE0}, got -1", "sender-retries"),
    case(rename(f"{SENDER}.retries", "retry"),
         f"unknown key {SENDER}.retry; did you mean 'retries'?", "sender-typo"),
    case(put(f"{SENDER}.from_address", "a@b.example"),
         f"unknown key {SENDER}.from_address (known in {SENDER}: backoff_seconds, batch_size, "
         "connections, defer_minutes, from, ", "sender-field-name"),
    case(put(f"{SENDER}.connections", 0),
         f"{SENDER}.connections must be a whole number from 1 to 16, got 0", "connections-0"),
    case(put(f"{SENDER}.connections", 33),
         f"{SENDER}.connections must be a whole number from 1 to 16, got 33",
         "connections-33"),
    case(put(f"{SENDER}.rate_per_second", -1),
         f"{SENDER}.rate_per_second must be a number >= 0, got -1", "rate-negative"),
    case(put(f"{SENDER}.backoff_seconds", -0.5),
         f"{SENDER}.backoff_seconds must be a number from 0 to 3600, got -0.5",
         "backoff-negative"),
    case(put(f"{SENDER}.defer_minutes", "1h"),
         f"{SENDER}.defer_minutes must be a whole number from 0 to 525600, got '1h'",
         "defer-text"),
    case(put(f"{SENDER}.max_attempts", 0),
         f"{SENDER}.max_attempts must be a whole number >= 1, got 0", "attempts-0"),
    case(put(f"{SENDER}.timeout_seconds", 0), f"{SENDER}.timeout_seconds {UP_TO_HOUR}, got 0",
         "sender-timeout-0"),
    case(put(f"{SENDER}.timeout_seconds", float("inf")), f"{UP_TO_HOUR}, got inf", "infinite"),
    case(put(f"{SENDER}.timeout_seconds", float("nan")), f"{UP_TO_HOUR}, got nan", "nan"),
    case(put(f"{SENDER}.timeout_seconds", 10**400), f"{UP_TO_HOUR}, got 1000000000", "huge"),
    case(put(f"{SENDER}.batch_size", None), f"{SENDER}.batch_size must be a whole number >= 1, "
         "got nothing (null)", "batch-null"),
    case(put(f"{SENDER}.from", "Shop"), "sender.from must be an address", "from-no-address"),
    case(put(f"{SENDER}.from", ["a@b.example"]), f"{SENDER}.from must be text", "from-list"),
    case(put(LIST, ["welcome_drip", "upsell"]),
         f"{LIST} must be a mapping of campaign names to their settings, got a list",
         "list-as-list"),
    case(put(f"{LIST}.upsell.ofer", {}),
         f"unknown key {LIST}.upsell.ofer; did you mean 'offer'?", "campaign-typo"),
    case(put(f"{LIST}.win_back.channels", "email"),
         f"{LIST}.win_back.channels must be a non-empty list, e.g. [email, postal], got 'email'",
         "channels-string"),
    case(put(f"{LIST}.win_back.channels", ["fax"]), "channels must list email and/or postal",
         "channels-fax"),
    case(put(f"{LIST}.win_back.channels", []), "channels must be a non-empty list",
         "channels-empty"),
    case(put(f"{LIST}.win_back.channels", ["email", "email"]), "names a channel twice",
         "channels-twice"),
    case(put(f"{LIST}.welcome_drip.anchor", "signup"),
         f"{LIST}.welcome_drip.anchor must be one of consent_confirmed_at, first_order_at",
         "anchor"),
    case(put(f"{LIST}.upsell.steps", [3, 1]), "must not decrease", "steps-decrease"),
    case(put(f"{LIST}.welcome_drip.steps", [0, -3]),
         f"{LIST}.welcome_drip.steps[1] {WHOLE_GE0}, got -3", "step-negative"),
    case(put(f"{LIST}.welcome_drip.steps", "0, 3, 7"),
         f"{LIST}.welcome_drip.steps must be a non-empty list, e.g. [0, 3, 7]", "steps-string"),
    case(put(f"{LIST}.upsell.repeat", "weekly"), "repeat must be 'once' or {every_days: N}",
         "repeat-weekly"),
    case(put(f"{LIST}.upsell.repeat", {"every_days": 0}),
         f"{LIST}.upsell.repeat.every_days must be a whole number >= 1, got 0", "repeat-0"),
    case(put(f"{LIST}.upsell.repeat", {"every": 90}),
         f"unknown key {LIST}.upsell.repeat.every; did you mean 'every_days'?", "repeat-typo"),
    case(put(f"{LIST}.upsell.repeat", {}), f"{LIST}.upsell.repeat.every_days must be a whole "
         "number >= 1, got nothing (the key is missing)", "repeat-empty"),
    case(put(f"{LIST}.upsell.tone", "casual"),
         f"{LIST}.upsell.tone must be one of formal, informal, got 'casual'", "tone"),
    case(put(f"{OFFER}.percent", 150),
         f"{OFFER}.percent must be a percent from 1 to 100 (a whole number, e.g. 15 for 15%), "
         "got 150", "percent-150"),
    case(put(f"{OFFER}.percent", 0), "got 0", "percent-0"),
    case(put(f"{OFFER}.percent", 12.5), "got 12.5", "percent-fraction"),
    case(remove(f"{OFFER}.percent"), f"{OFFER}.percent must be a percent from 1 to 100 (a whole "
         "number, e.g. 15 for 15%), got nothing (the key is missing)", "percent-missing"),
    case(put(f"{OFFER}.valid_days", 0), f"{OFFER}.valid_days must be a whole number >= 1",
         "valid-days-0"),
    case(put(f"{OFFER}.code", 15), f"{OFFER}.code must be text, e.g. START15, got 15; put it in "
         "quotes", "code-number"),
    case(rename(f"{OFFER}.valid_days", "valid_day"),
         f"unknown key {OFFER}.valid_day; did you mean 'valid_days'?", "offer-typo"),
    case(put(f"{LIST}.upsell.offer", "MEHRLICHT10"), f"{OFFER} must be a mapping of code, "
         "percent and valid_days, got 'MEHRLICHT10'", "offer-string"),
    case(put(f"{LIST}.nosuch", {}), "add sql/campaigns/nosuch.sql", "no-audience-file"),
    case(put(f"{LIST}.Win-Back", {}), "a campaign name is lower-case letters, digits and _",
         "campaign-name"),
    # postal
    case(rename("postal.profile", "profil"),
         "unknown key postal.profil; did you mean 'profile'?", "postal-typo"),
    case(put("postal.min_pieces", -1), f"postal.min_pieces {WHOLE_GE0}, got -1", "pieces"),
    case(put("postal.profile", "latin1_vendr"),
         "postal.profile is 'latin1_vendr', which is not a profile; did you mean "
         "'latin1_vendor'?", "profile-typo"),
    case(put(f"{PROFILE}.encoding", "utf-16"), f"{PROFILE}.encoding is 'utf-16'; use utf-8",
         "encoding"),
    case(put(f"{PROFILE}.delimit", ","), f"unknown key {PROFILE}.delimit; did you mean "
         "'delimiter'?", "profile-typo-key"),
    case(put(f"{PROFILE}.min_pieces", "many"), f"{PROFILE}.min_pieces {WHOLE_GE0}, got 'many'",
         "profile-pieces"),
    case(put("postal.action_codes.win_bak", "WB"), "postal.action_codes.win_bak names no "
         "campaign of campaigns.list; did you mean 'win_back'?", "action-code-campaign"),
    case(put("postal.action_codes.win_back", 2026),
         "postal.action_codes.win_back must be text, e.g. WB2026, got 2026", "action-code-number"),
    case(put("postal.action_codes", ["WB"]), "postal.action_codes must be a mapping",
         "action-codes-list"),
    # run
    case(put("run.task_timeout", 30),
         "unknown key run.task_timeout; did you mean 'task_timeouts'?", "run-typo"),
    case(put("run.task_timeout_minutes", 0),
         "run.task_timeout_minutes must be a number > 0 and <= 10080, got 0",
         "task-timeout-0"),
    case(put("run.task_timeouts", {"merge": -3}),
         "run.task_timeouts.merge must be a number > 0 and <= 10080, got -3",
         "task-timeout-negative"),
    case(put("run.task_timeouts", {"bad id!": 3}), "'bad id!' is not a task id", "task-id"),
    case(put("run.lock_wait_minutes", 40000),
         "run.lock_wait_minutes must be a number from 0 to 1440, got 40000", "lock-wait-huge"),
    case(put("run.retry_delay_minutes", 1e13),
         "run.retry_delay_minutes must be a number > 0 and <= 1440", "retry-delay-huge"),
    case(put(f"{SENDER}.defer_minutes", 2**31),
         f"{SENDER}.defer_minutes must be a whole number from 0 to 525600", "defer-huge"),
    case(put("run.task_timeouts", [30]), "run.task_timeouts must be a mapping of task ids",
         "task-timeouts-list"),
    case(put("run.lock_wait_minutes", -1),
         "run.lock_wait_minutes must be a number from 0 to 1440, got -1",
         "lock-wait-negative"),
    case(put("run", "fast"), "run must be a mapping of task_retries", "run-string"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "fragment"), BROKEN)
def test_a_broken_config_is_one_line_naming_the_key(change, fragment):
    raw = copy.deepcopy(REPOSITORY)
    change(raw)
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    message = str(err.value)
    assert message.startswith(f"{config_path()}: ")
    assert "\n" not in message
    assert fragment in message


def test_there_are_many_broken_configs():
    assert len(BROKEN) >= 40


def test_repository_config_is_valid():
    cfg = load_config()
    assert cfg.timezone == "Europe/Berlin" and cfg.source.page_size > 0
    assert cfg.campaigns.sender.retries == 3 and len(cfg.campaigns.campaigns) == 7
    assert cfg.campaigns.campaigns[0].name == "birthday"  # first in the priority list
    assert cfg.run == RunConfig() and "run" in cfg.raw


def test_repository_config_runs_a_holdout_and_an_ab_test(monkeypatch):
    from tests.conftest import REPOSITORY_CONFIG

    monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(REPOSITORY_CONFIG))
    load_config.cache_clear()
    try:
        camps = load_config().campaigns
        assert camps.get("tripwire_offer").holdout == 0.10
        assert camps.get("upsell").variant_names(1) == ["a", "b"]
        assert camps.attribution_days == 7
    finally:
        monkeypatch.undo()
        load_config.cache_clear()


def test_every_section_may_be_left_out():
    cfg = parse_config({})
    assert cfg.run.timeout_minutes("merge") == 120 and cfg.campaigns.campaigns == ()


def test_run_section_is_read():
    raw = {"run": {"task_timeout_minutes": 60, "task_timeouts": {"extract_events": 240},
                   "lock_wait_minutes": 0}}  # fmt: skip
    run = parse_config(raw).run
    assert run.timeout_minutes("extract_events") == 240 and run.timeout_minutes("merge") == 60
    assert run.lock_wait_minutes == 0


def test_unquoted_off_turns_a_check_off():
    """YAML reads ``severity: off`` as false; it means off."""
    raw = yaml.safe_load("quality:\n  checks:\n    contacts_volume: {severity: off}\n")
    cfg = parse_config(raw)
    assert cfg.quality.checks == {"contacts_volume": {"severity": "off"}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA zone"),
        ({"source": {"page_size": 0}}, "source.page_size must be a whole number from 1 to"),
        ({"source": {"read_timout": 3}}, "unknown key source.read_timout; did you mean"),
        ([1, 2], "the top level must be a mapping of sections"),
        (None, "the top level must be a mapping of sections"),
        ("timezone: UTC", "the top level must be a mapping of sections"),
    ],
)
def test_bad_values_are_named(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)


def test_cutoff_is_start_of_next_day_in_berlin():
    t = parse_config({}).cutoff(date(2026, 3, 28))  # the night clocks go forward
    assert t.isoformat() == "2026-03-29T00:00:00+01:00"


def test_rules_from_the_file_reach_the_sql():
    cfg = parse_config({"rules": {"phases": {"subscription_days": 21}}})
    params = cfg.rule_params(date(2026, 3, 1))
    assert params["subscription_days"] == 21 and params["at_risk_last_order_days"] == 180


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": {"phases": {"subscribtion_days": 21}}}, "unknown key rules.phases.subscribtion"),
        ({"rules": {"flags": {"bad_payer_days": -1}}}, "bad_payer_days must be a positive"),
        ({"campaigns": {"list": {"upsell": {"steps": [3, 1]}}}}, "must not decrease"),
        ({"campaigns": {"list": {"upsell": {"repeat": "weekly"}}}}, "repeat must be 'once'"),
        ({"campaigns": {"list": {"nosuch": {}}}}, "add sql/campaigns/nosuch.sql"),
        ({"campaigns": {"list": {"upsell": {"channels": ["fax"]}}}}, "channels must list"),
        ({"campaigns": {"keep_decisions_days": 0}}, "campaigns.keep_decisions_days must be"),
        ({"campaigns": {"unsubscribe_url": "http://shop.example/u/"}}, "must be an https URL"),
        ({"campaigns": {"sender": {"from": "Shop"}}}, "sender.from must be an address"),
    ],
)
def test_bad_rules_and_campaigns_are_named(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """Write text as the config file (JOURNEYFLOW_CONFIG) and forget the parsed one."""

    def write(content: str):
        path = tmp_path / "journeyflow.yaml"
        path.write_text(content, encoding="utf-8")
        monkeypatch.setenv("JOURNEYFLOW_CONFIG", str(path))
        load_config.cache_clear()
        return path

    yield write
    monkeypatch.delenv("JOURNEYFLOW_CONFIG")
    load_config.cache_clear()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("campaigns: {}\ncampaigns: {list: {}}\n", "line 2: the key 'campaigns' is given twice"),
        ("source:\n  page_size: 10\n  page_size: 20\n", "the key 'page_size' is given twice"),
        ("quality:\n  oldest_event: 2000-13-01\n", "a value cannot be read: month must be in 1"),
        ("source: [unclosed\n", "not valid YAML: "),
        ("? [a, b]\n: 1\n", "not valid YAML: while constructing a mapping"),
        ("source:\n\tpage_size: 10\n", "not valid YAML: "),
    ],
)
def test_a_file_yaml_cannot_read_is_one_line(config_file, content, fragment):
    path = config_file(content)
    with pytest.raises(ConfigError) as err:
        load_config()
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    assert fragment in str(err.value)


def test_a_merge_key_is_no_duplicate(config_file):
    config_file("source: {<<: {page_size: 10, max_pages: 5}, page_size: 20}\n")
    cfg = load_config()
    assert (cfg.source.page_size, cfg.source.max_pages) == (20, 5)


def test_cli_prints_one_line_and_exits_2(config_file, capsys):
    raw = copy.deepcopy(REPOSITORY)
    raw["campaigns"]["sender"]["retries"] = -1
    path = config_file(yaml.safe_dump(raw, allow_unicode=True))
    assert cli.main(["templates", "check"]) == 2
    out, err = capsys.readouterr()
    assert err == (
        f"journeyflow: {path}: campaigns.sender.retries must be a whole number >= 0, got -1\n"
    )
    assert "Traceback" not in out + err


def test_cli_names_a_typo_at_the_top_level(config_file, capsys):
    raw = copy.deepcopy(REPOSITORY)
    raw["campagins"] = raw.pop("campaigns")
    config_file(yaml.safe_dump(raw, allow_unicode=True))
    assert cli.main(["templates", "check"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'campaigns'?" in err and err.count("\n") == 1
