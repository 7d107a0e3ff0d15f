"""The charts of each page, drawn from the page's JSON twin (so chart and table agree)."""

from __future__ import annotations

from typing import Any

from journeyflow.cockpit import svg

OUTCOMES = ("sent", "exported", "queued", "held", "held_out", "excluded", "bounced", "failed",
            "in_doubt")  # fmt: skip


def outcome_columns(found: dict[str, Any]) -> list[tuple[str, str]]:
    """The Campaigns table's columns: campaign, channel, then each outcome that occurs."""
    present = {k for row in found.get("outcomes", []) for k in row}
    shown = [(o, o.replace("_", " ")) for o in OUTCOMES if o in present]
    return [("campaign", "campaign"), ("channel", "channel"), *shown, ("contacts", "candidates")]


def _funnel(found: dict[str, Any]) -> dict[str, str]:
    stages = found["funnel"]
    notes = [f"→ {s['to_next'] * 100:.1f} % go on" if s["to_next"] is not None else ""
             for s in stages]  # fmt: skip
    series: dict[str, list[tuple[str, float]]] = {p["phase"]: [] for p in found["phases"]}
    for row in found["trend"]:
        series.setdefault(row["phase"], []).append((row["run_date"], row["contacts"]))
    return {
        "funnel": svg.bars([(s["stage"], s["people"]) for s in stages], "The funnel", notes),
        "phases": svg.bars(
            [(p["phase"], p["contacts"]) for p in found["phases"]],
            "Contacts per phase",
            [f"({p['change']:+,})" for p in found["phases"]],
        ),
        "trend": svg.lines({k: v for k, v in series.items() if v}, "Contacts per phase over time"),
    }


def _campaigns(found: dict[str, Any]) -> dict[str, str]:
    rows = [(f"{o['campaign']} ({o['channel']})", {k: o.get(k, 0) for k in OUTCOMES})
            for o in found["outcomes"]]  # fmt: skip
    present = [o for o in OUTCOMES if any(parts[o] for _, parts in rows)]
    reasons: dict[str, int] = {}
    for r in found["rows"]:
        if r["decision"] in ("held", "excluded", "bounced", "failed", "in_doubt"):
            label = r["reason"] if len(r["reason"]) <= 60 else r["reason"][:57] + "..."
            reasons[label] = reasons.get(label, 0) + r["contacts"]
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:12]
    return {
        "outcomes": svg.stacked(rows, present, "Campaign outcomes"),
        "reasons": svg.bars(top, "Held and excluded by reason", label_width=380),
    }


def _quality(found: dict[str, Any]) -> dict[str, str]:
    rows = [
        (c["check"], c["verdict"], f"{c['bad_rows'] or 0:,} bad of {c['rows'] or 0:,} rows")
        for c in found["checks"]
    ]
    return {"checks": svg.verdicts(rows, "The quality gate's checks")}


def _reports(found: dict[str, Any]) -> dict[str, str]:
    levels = [(e["engagement_level"], e["contacts"]) for e in found["engagement"]]
    curve = [
        (months_label(w["months_since_order"]), _rate(w["reached_converted"], w["reached"]))
        for w in found["winback"]
    ]
    notes = [
        f"% of {w['reached']:,} reached; holdout {_rate(w['holdout_converted'], w['holdout'])} % "
        f"of {w['holdout']:,}"
        for w in found["winback"]
    ]
    return {
        "engagement": svg.bars(levels, "Contacts per engagement level"),
        "winback": svg.bars(curve, "Win-back: bought within the window, by months since the "
                            "last order", notes, label_width=120),
    }  # fmt: skip


def _results(found: dict[str, Any]) -> dict[str, str]:
    rows = [
        (f"{r['campaign']} {r['step']} {r['variant']}", round(r["conversion_rate"] * 100, 1))
        for r in found["rows"]
    ]
    notes = [f"% of {r['contacts']:,}" for r in found["rows"]]
    return {"rates": svg.bars(rows, "Conversion rate per campaign, step and variant", notes,
                              label_width=260)}  # fmt: skip


def months_label(months: int) -> str:
    return "unknown" if months < 0 else f"{months} months"


def _rate(converted: int, contacts: int) -> float:
    return round(100 * converted / contacts, 1) if contacts else 0.0


def for_page(name: str, found: dict[str, Any]) -> dict[str, str]:
    """The SVG charts of page ``name`` for its data ``found``."""
    draw = {"funnel": _funnel, "campaigns": _campaigns, "quality": _quality,
            "reports": _reports, "results": _results}.get(name)  # fmt: skip
    return draw(found) if draw else {}
