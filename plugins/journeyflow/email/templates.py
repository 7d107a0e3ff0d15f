"""``journeyflow templates check``: every campaign step and variant rendered in every language for
a full, a sparse and a hostile sample contact, before any customer sees a broken email."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from journeyflow.config import load_config
from journeyflow.config.model import MAIN_VARIANT
from journeyflow.email.render import KINDS, LANGUAGES, Recipient, Renderer
from journeyflow.states import Channel


def sample_recipients() -> list[Recipient]:
    """Contacts for ``templates check``: full, sparse and hostile, in every language."""
    full = dict(
        contact_id="sample-1", email="anna.mueller@example.org", salutation="Frau", title="Dr.",
        first_name="Anna", last_name="Müller", city="Dresden", order_count=3,
        first_product="Einsteigerkurs Fotografie", last_product="Stativ Pro",
        first_order_at=datetime(2026, 1, 5, 10, 0, tzinfo=load_config().tz),
        last_order_at=datetime(2026, 9, 1, 18, 30, tzinfo=load_config().tz),
    )  # fmt: skip
    sparse = dict(contact_id="sample-2", email="x@example.org")
    hostile = dict(
        contact_id="sample-3", email="h@example.org", salutation="Herr",
        first_name="<script>alert(1)</script>", last_name="{{7*7}}", last_product="{{7*7}}",
    )  # fmt: skip
    return [
        Recipient(**{**person, "language": lang})
        for lang in LANGUAGES
        for person in (full, sparse, hostile)
    ]


def check_templates(templates_dir: Any = None) -> list[str]:
    """Render every campaign step in every language for the sample contacts; list the errors."""
    from journeyflow.unsubscribe.keys import parse_keys

    renderer = Renderer(templates_dir, keys=parse_keys("check:" + "x" * 32, "check"))
    root = Path(renderer.templates_dir)
    errors = []
    for camp in renderer.cfg.campaigns:
        if Channel.EMAIL not in camp.channels:
            continue
        for step, _ in camp.steps:
            for lang in LANGUAGES:  # a language has all three parts of a step, or none
                names = [f"{lang}/{camp.name}/{step}.{kind}.j2" for kind in KINDS]
                missing = [n for n in names if not (root / n).is_file()]
                if 0 < len(missing) < len(names):
                    errors.append(
                        f"{camp.name} step {step} ({lang}): email_templates/{missing[0]} is "
                        "missing while the other parts are there (the email would mix languages)"
                    )
            errors += _stray_variant_files(root, camp.name, step, camp.variant_names(step))
            for variant in camp.variant_names(step):
                for r in sample_recipients():
                    errors += _render_errors(renderer, r, camp.name, step, variant)
    return sorted(set(errors))


def _render_errors(
    renderer: Renderer, r: Recipient, campaign: str, step: int, variant: str
) -> list:
    shown = "" if variant == MAIN_VARIANT else f" variant {variant}"
    where = f"{campaign} step {step}{shown} ({r.language}, {r.contact_id})"
    try:
        parts = renderer.render(r, campaign, step, date(2026, 11, 1), variant)
        renderer.message(r, campaign, step, 1, date(2026, 11, 1), variant=variant)
    except Exception as exc:  # report every broken template, not just the first
        return [f"{where}: {exc}"]
    return [
        f"{where}: the {kind} part has no visible unsubscribe link"
        for kind in ("txt", "html")
        if parts["unsubscribe"] not in parts[kind]
    ]


def _stray_variant_files(root: Path, campaign: str, step: int, variants: list[str]) -> list[str]:
    """Variant files of a step whose variant the config does not list (a typo: never sent)."""
    errors = []
    for lang in LANGUAGES:
        for path in sorted((root / lang / campaign).glob(f"{step}.*.*.j2")):
            variant, kind = path.name.split(".")[1:3]
            if kind in KINDS and variant not in variants:
                listed = ", ".join(v for v in variants if v != MAIN_VARIANT) or "none"
                errors.append(
                    f"{campaign} step {step}: email_templates/{lang}/{campaign}/{path.name} is for "
                    f"variant {variant!r}, which campaigns.list.{campaign}.variants does not list "
                    f"(variants of step {step}: {listed}); rename the file or add the variant"
                )
    return errors
