"""The birthday campaign (seed 004): the day itself, or days_before it; 29 February on 28
February in other years; once a year; German and English copy for every variant."""

from __future__ import annotations

from datetime import date, timedelta
from email import message_from_string, policy

import pytest

from journeyflow import campaigns
from journeyflow.email.render import LANGUAGES, Recipient, Renderer
from journeyflow.email.templates import sample_recipients
from journeyflow.unsubscribe.keys import parse_keys
from tests.campaign_world import decisions, run_day
from tests.world import DAY, T


def birthday_candidates(day: date) -> set[str]:
    return {r["contact_id"] for r in decisions_of(day) if r["campaign"] == "birthday"}


def decisions_of(day):
    from journeyflow import warehouse

    return decisions(warehouse, day)


@pytest.mark.parametrize(
    ("day", "born_on_29th", "born_on_28th"),
    [
        (date(2027, 2, 28), True, True),  # not a leap year: 29 February counts on the 28th
        (date(2027, 3, 1), False, False),
        (date(2028, 2, 28), False, True),  # a leap year: the 29th has its own day
        (date(2028, 2, 29), True, False),
    ],
)
def test_29_february_counts_on_28_february_in_other_years(db, world, config, day, born_on_29th,
                                                         born_on_28th):  # fmt: skip
    config(lambda raw: raw["campaigns"]["list"]["birthday"].update(days_before=0))
    leap = world.subscriber(T - 400 * DAY, birthday=date(1992, 2, 29))
    plain = world.subscriber(T - 400 * DAY, birthday=date(1990, 2, 28))
    world.subscriber(T - 400 * DAY, birthday=None)
    world.run(day)
    campaigns.decide(day)
    assert birthday_candidates(day) == {c for c, yes in ((leap, born_on_29th),
                                                         (plain, born_on_28th)) if yes}  # fmt: skip


def test_days_before_greets_ahead_and_once_a_year(db, world, smtp, config):
    config(lambda raw: raw["campaigns"]["list"]["birthday"].update(days_before=3))
    day = date(2026, 11, 20)
    ahead = world.subscriber(T - 400 * DAY, birthday=date(1985, 11, 23), language="en",
                             first_name="Ann")  # fmt: skip
    today = world.subscriber(T - 400 * DAY, birthday=date(1985, 11, 20))
    no_consent = world.contact(birthday=date(1970, 11, 23))
    run_day(world, day)
    got = {r["contact_id"]: r for r in decisions_of(day) if r["campaign"] == "birthday"}
    assert set(got) == {ahead, no_consent} and today not in got
    assert got[ahead]["decision"] == "sent"
    assert got[no_consent]["decision"] == "excluded"
    (mail,) = [m for m in smtp.messages if m["X-Campaign"] == "birthday"]
    assert mail["Subject"].startswith("Happy birthday") and mail["X-Campaign-Variant"] == "main"
    assert "GEBURTSTAG15" in mail.get_body(("plain",)).get_content()
    run_day(world, day + timedelta(days=1))  # still within the year: not again
    assert len([m for m in smtp.messages if m["X-Campaign"] == "birthday"]) == 1


def test_every_campaign_step_and_variant_renders_in_both_languages(config):
    config(lambda raw: raw["campaigns"]["list"]["tripwire_offer"].update(
        variants={"a": 50, "b": 50}))  # fmt: skip
    from journeyflow.config import load_config

    renderer = Renderer(keys=parse_keys("k:" + "x" * 32, "k"),
                        unsubscribe_base="https://shop.example/u/")  # fmt: skip
    seen = set()
    for camp in load_config().campaigns.campaigns:
        if "email" not in camp.channels:
            continue
        for step, _ in camp.steps:
            for variant in camp.variant_names(step):
                for r in sample_recipients():
                    _, body = renderer.message(r, camp.name, step, 1, date(2026, 11, 20),
                                               variant=variant)  # fmt: skip
                    msg = message_from_string(body, policy=policy.default)
                    assert msg["X-Campaign-Variant"] == variant
                    assert msg["Content-Language"] == r.language  # both languages exist
                    seen.add((camp.name, step, variant, r.language))
    assert {("birthday", 1, "main", lang) for lang in LANGUAGES} <= seen
    assert {("upsell", 1, v, lang) for v in "ab" for lang in LANGUAGES} <= seen
    # variant b of upsell has its own subject, and the step's text
    anna = Recipient("c1", "anna@example.org", "de", "Frau", None, "Anna", "Müller",
                     last_product="Stativ Pro")  # fmt: skip
    a = renderer.render(anna, "upsell", 1, date(2026, 11, 20), "a")
    b = renderer.render(anna, "upsell", 1, date(2026, 11, 20), "b")
    assert a["subject"] != b["subject"] and b["subject"].startswith("Stativ Pro war erst")
    assert a["txt"].replace("step1-a", "") == b["txt"].replace("step1-b", "")
