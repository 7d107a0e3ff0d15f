"""The morning summary: after a good night, one email to ``summary.to`` with last night's
figures (contacts per phase and the change, messages per campaign, holds and exclusions by their
main reason, letters, data-quality warnings) and a link to the run's page in the cockpit.
German or English (``summary.language``), in the style of the customer emails, readable on a
phone. ``journeyflow preview summary`` renders it. It goes out once per run date."""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import date
from typing import Any

from journeyflow import warehouse
from journeyflow.config import load_config
from journeyflow.sqlfile import statement

log = logging.getLogger(__name__)
KIND = "summary"
SENT = ("sent", "exported")


def figures(run_date: date, s: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the summary shows for D (ids and counts only); ``s`` is ``summary(D)`` when the
    caller has read it already."""
    from journeyflow.campaigns.decide import reason_kind
    from journeyflow.notify.alerts import step_warnings
    from journeyflow.summary import summary

    if s is None:
        s = summary(run_date, totals=False)
    per: dict[str, Counter] = {}
    for r in s["campaigns"]:
        per.setdefault(r["campaign"], Counter())[r["decision"]] += r["contacts"]
    campaigns = [
        {"campaign": c, "emails": n["sent"], "letters": n["exported"], "held": n["held"],
         "held_out": n["held_out"], "excluded": n["excluded"]}
        for c, n in per.items()
    ]  # fmt: skip
    reasons: Counter = Counter()
    with warehouse.transaction() as conn:
        for r in conn.execute(statement("notify/reasons"), {"d": run_date}).mappings():
            reasons[(r["decision"], _plain(reason_kind(r["reason"])))] += r["contacts"]
    warnings = [g for g in s["gate"] if g["verdict"] == "warning"]
    warnings += [{"check_name": "", "text": w} for w in step_warnings(s["steps"])]
    cfg = load_config().summary
    return {
        "run_date": run_date,
        "status": (s["run"] or {}).get("status") or "success",
        "phases": s["phases"],
        "contacts": sum(p["contacts"] for p in s["phases"]),
        "campaigns": campaigns,
        "emails": sum(c["emails"] for c in campaigns),
        "letters": sum(c["letters"] for c in campaigns),
        "reasons": [
            {"decision": d, "reason": r, "contacts": n} for (d, r), n in reasons.most_common(6)
        ],  # fmt: skip
        "warnings": warnings,
        "attention": s["attention"],
        "link": f"{cfg.cockpit_url}/runs?date={run_date}" if cfg.cockpit_url else None,
    }


def _plain(kind: str) -> str:
    """A reason kind without its date placeholders: "repeat window", "step n is due later"."""
    kind = re.sub(r": last sent <date>, again from <date>", "", kind)
    return re.sub(r" (on|of|from) <date>", " later", kind).replace("<date>", "a date")


def render(
    run_date: date, language: str | None = None, s: dict[str, Any] | None = None
) -> tuple[str, str, str]:
    """(subject, text, HTML) of the summary of D (``s``: see ``figures``)."""
    from journeyflow.email.render import Renderer, format_date

    lang = language or load_config().summary.language
    renderer = Renderer()  # the customer emails' environment: autoescape, StrictUndefined
    env = renderer.env
    env.filters["n"] = lambda v: f"{v:,}".replace(",", "." if lang == "de" else ",")
    env.filters["signed"] = lambda v: ("+" if v > 0 else "") + env.filters["n"](v)
    ctx = {
        **figures(run_date, s), "lang": lang, "brand": renderer.brand(lang),
        "day": format_date(run_date, lang),
    }  # fmt: skip
    parts = [
        env.get_template(f"{lang}/internal/summary.{kind}.j2").render(ctx)
        for kind in ("subject", "txt", "html")
    ]
    return " ".join(parts[0].split()), parts[1], parts[2]


def send_summary(run_date: date, s: dict[str, Any] | None = None) -> str | None:
    """Send the summary of D to ``summary.to`` once; returns where it went, or None (``s``: see
    ``figures``)."""
    from journeyflow.notify import mail

    to = load_config().summary.to
    if not to:
        return None
    key = {"kind": KIND, "d": run_date}
    with warehouse.transaction() as conn:
        claimed = conn.execute(statement("notify/record"), key).first() is not None
    if not claimed:
        log.info("the summary of %s went out already", run_date)
        return None
    try:
        subject, text, html = render(run_date, s=s)
        went = mail.deliver(KIND, run_date, to, subject, text, html)
    except BaseException:
        with warehouse.transaction() as conn:
            conn.execute(statement("notify/unclaim"), key)
        raise
    with warehouse.transaction() as conn:
        conn.execute(statement("notify/sent"), {**key, "went": went})
    log.info("the summary of %s went to %d address(es): %s", run_date, len(to), went)
    return went
