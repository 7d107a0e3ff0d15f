"""Config validation: a wrong value is named with its key and the fix."""

from datetime import date

import pytest

from journeyflow.config import ConfigError, load_config, parse_config


def test_repository_config_is_valid():
    cfg = load_config()
    assert cfg.timezone == "Europe/Berlin" and cfg.source.page_size > 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA zone"),
        ({"source": {"page_size": 0}}, "source.page_size must be a positive number"),
        ({"source": {"read_timout": 3}}, "unknown keys in source: ['read_timout']"),
        ([1, 2], "top level must be a mapping"),
    ],
)
def test_bad_values_are_named(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert message in str(err.value)


def test_cutoff_is_start_of_next_day_in_berlin():
    from datetime import date

    t = parse_config({}).cutoff(date(2026, 3, 28))  # the night clocks go forward
    assert t.isoformat() == "2026-03-29T00:00:00+01:00"


def test_rules_from_the_file_reach_the_sql():
    cfg = parse_config({"rules": {"phases": {"subscription_days": 21}}})
    params = cfg.rule_params(date(2026, 3, 1))
    assert params["subscription_days"] == 21 and params["at_risk_last_order_days"] == 180


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": {"phases": {"subscribtion_days": 21}}}, "unknown keys in rules.phases"),
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
