"""``campaigns.list.<name>``: one campaign's channels, steps, repeat rule, offer, holdout and
variants, read into a ``Campaign``."""

from __future__ import annotations

from typing import Any

from journeyflow.config.model import BUCKETS, MAIN_VARIANT, Campaign, Offer
from journeyflow.config.validate import Range, Section, fail, shown, whole_number
from journeyflow.states import Channel

CAMPAIGN_KEYS = ("channels", "anchor", "steps", "repeat", "tone", "offer", "holdout", "variants",
                 "days_before")  # fmt: skip
ANCHORS = ("consent_confirmed_at", "first_order_at")
RESERVED_VARIANTS = (MAIN_VARIANT, "holdout")


def read_campaign(name: str, spec: Any) -> Campaign:
    """One campaign of ``campaigns.list`` (left empty: every setting at its default)."""
    where = f"campaigns.list.{name}"
    if not _is_name(name):
        fail(f"{where}: a campaign name is lower-case letters, digits and _")
    s = Section({} if spec is None else spec, where, CAMPAIGN_KEYS)
    channels = s.listing("channels", "[email, postal]", [Channel.EMAIL.value], min_len=1)
    if not all(isinstance(c, str) for c in channels) or set(channels) - {c.value for c in Channel}:
        fail(f"{where}.channels must list email and/or postal, e.g. [email, postal], "
             f"got {shown(channels)}")  # fmt: skip
    if len(set(channels)) != len(channels):
        fail(f"{where}.channels names a channel twice: {channels}")
    delays = [
        whole_number(delay, f"{where}.steps[{i}]", Range(at_least=0))
        for i, delay in enumerate(s.listing("steps", "[0, 3, 7]", [0], min_len=1))
    ]
    if delays != sorted(delays):
        fail(f"{where}.steps: delays must not decrease, got {delays}")
    repeat = s.get("repeat", "once")
    repeat_days = None
    if isinstance(repeat, dict):
        every = Section(repeat, f"{where}.repeat", ("every_days",))
        repeat_days = every.whole("every_days", at_least=1)
        if len(delays) > 1:
            fail(f"{where}: a repeating campaign has one step, got steps {delays}")
    elif repeat != "once":
        fail(f"{where}.repeat must be 'once' or {{every_days: N}}, got {shown(repeat)}")
    offer = None
    if "offer" in s:
        o = Section(s.get("offer"), f"{where}.offer", ("code", "percent", "valid_days"),
                    "code, percent and valid_days")  # fmt: skip
        offer = Offer(
            code=o.text("code", example="START15"),
            percent=o.percent("percent", at_least=1),
            valid_days=o.whole("valid_days", 14, at_least=1),
        )
    holdout = s.share("holdout", 0.0, at_most=0.5)
    if abs(holdout * BUCKETS - round(holdout * BUCKETS)) > 1e-9:
        fail(f"{where}.holdout is a share in steps of 0.0001 (one bucket of {BUCKETS}), "
             f"e.g. 0.1, got {holdout}")  # fmt: skip
    campaign = Campaign(
        name=name,
        channels=tuple(channels),
        anchor=s.choice("anchor", ANCHORS, None),
        steps=tuple((i + 1, d) for i, d in enumerate(delays)),
        repeat_days=repeat_days,
        tone=s.choice("tone", ("formal", "informal"), "informal"),
        offer=offer,
        holdout=holdout,
        variants=read_variants(s.get("variants", {}), f"{where}.variants", len(delays)),
        days_before=s.whole("days_before", 0, at_least=0, at_most=60),
    )
    if not campaign.audience_file.exists():
        fail(f"{where}: its audience query {campaign.audience_file} is missing; "
             f"add sql/campaigns/{name}.sql")  # fmt: skip
    return campaign


def read_variants(value: Any, where: str, steps: int) -> dict[int, tuple[tuple[str, int], ...]]:
    """``variants``: ``{a: 50, b: 50}`` for every step, or ``{1: {a: 50, b: 50}}`` per step."""
    if value is None or value == {}:
        return {}
    if not isinstance(value, dict):
        fail(f"{where} must map variant names to weights, e.g. {{a: 50, b: 50}}, or step numbers "
             f"to such a map, e.g. {{1: {{a: 50, b: 50}}}}; got {shown(value)}")  # fmt: skip
    if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
        per_step = {}
        for step, split in value.items():
            if not 1 <= step <= steps:
                fail(f"{where}: step {step} does not exist (the campaign has steps 1..{steps})")
            per_step[step] = _split(split, f"{where}.{step}")
        return per_step
    split = _split(value, where)
    return {step: split for step in range(1, steps + 1)}


def _split(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict) or len(value) < 2:
        fail(f"{where} must name two or more variants with their weights, e.g. {{a: 50, b: 50}}, "
             f"got {shown(value)}")  # fmt: skip
    split = []
    for variant, weight in value.items():
        if not isinstance(variant, str) or not _is_name(variant) or len(variant) > 20:
            fail(f"{where}: a variant name is up to 20 lower-case letters, digits and _ (it "
                 f"names template files like 1.b.subject.j2), got {shown(variant)}")  # fmt: skip
        if variant in RESERVED_VARIANTS:
            fail(f"{where}: {variant!r} is reserved ({' and '.join(RESERVED_VARIANTS)} name the "
                 "whole step and the control group); call the variant a, b, ...")  # fmt: skip
        split.append((variant, whole_number(weight, f"{where}.{variant}", Range(at_least=1))))
    return tuple(split)


def _is_name(name: str) -> bool:
    return name.replace("_", "").isalnum() and name.isascii() and name.islower()
