"""Commands about the journey: ``phases check``, ``explain``, ``report``."""

from __future__ import annotations

import argparse
import sys

from journeyflow.cli.format import last_run_date, parse_date, phase_lines, show


def cmd_phases_check(args: argparse.Namespace) -> int:
    from journeyflow import lifecycle, migrate

    migrate.migrate()
    errors, warnings = lifecycle.check_phases()
    rules = [] if errors and not lifecycle.PHASES_DIR.exists() else _safe_rules()
    for rule in rules:
        print(f"  {rule.priority:>3}  {rule.phase:<14} {rule.rule}")
    for warning in warnings:
        print(f"warning: {warning}")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"{len(rules)} phase files, {len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


def _safe_rules() -> list:
    from journeyflow import lifecycle

    try:
        return lifecycle.load_phases()
    except lifecycle.PhaseFileError:
        return []


def cmd_explain(args: argparse.Namespace) -> int:
    from journeyflow import campaigns, lifecycle

    run_date = args.date or last_run_date()
    try:
        why = lifecycle.explain(args.contact_id, run_date)
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    print(f"contact {why['contact_id']} as of {why['run_date']} (cut-off {why['cutoff']})\n")
    skip = {"contact_id", "run_date"}
    for key, value in why["facts"].items():
        if key not in skip:
            print(f"  {key:<22} {show(value)}")
    print()
    for rule in why["rules"]:
        mark = "MATCH" if rule["matched"] else "  -  "
        values = ", ".join(f"{k}={show(v)}" for k, v in rule["values"].items())
        print(f"  {mark} {rule['priority']:>3} {rule['phase']:<14} {rule['rule']}")
        if values:
            print(f"  {'':>10}{'':<15}{values}")
    print(f"\nphase: {why['phase']} (first match wins)")
    visitors = why["visitors"]
    if visitors:
        counted = [v for v in visitors if v["counted"]]
        print(f"\nlinked anonymous ids: {len(visitors)} ({len(counted)} counted as of the "
              f"cut-off, {sum(v['events'] for v in counted):,} events before it)")  # fmt: skip
        for v in visitors:
            when = "" if v["counted"] else "  (identified at or after the cut-off: a later run)"
            print(
                f"  {v['anonymous_id']:<24} identified {show(v['identified_at'])}  "
                f"events {v['events']:>6,}  first seen {show(v['first_seen_at'])}{when}"
            )
    else:
        print("\nlinked anonymous ids: none")
    decisions = campaigns.decisions_for(args.contact_id, args.date)
    if decisions:
        print(f"\ncampaign decisions of {decisions[0]['run_date']}")
        for d in decisions:
            print(f"  {d['campaign']:<20} step {d['step']}  {d['channel']:<6} "
                  f"{d['decision']:<9} {d['reason']}")  # fmt: skip
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from journeyflow import lifecycle

    try:
        rep = lifecycle.read_report(args.date)
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    print(f"journeyflow report for {rep['run_date']}\n")
    print("contacts per phase (change since the run before)")
    print("\n".join(phase_lines(rep)))
    print("\ntransitions this run (from -> to)")
    for t in rep["transitions"]:
        print(f"  {t['from_phase']:>14} -> {t['to_phase']:<14}{t['contacts']:>10,}")
    print("\nthe funnel (flyby: anonymous visitors of the last 30 days, never identified)")
    for f in rep["funnel"]:
        onward = f"  {100 * f['to_next']:5.1f}% reach the next stage" if f["to_next"] else ""
        print(f"  {f['stage']:<9}{f['people']:>10,}{onward}")
    print("\nmedian days from first touch to first order, by month of first touch")
    print("  (first touch: the earliest event of the contact or of an anonymous visitor linked")
    print("   to it by identify, or its creation when that came first)")
    for c in rep["cohorts"]:
        median = c["median_days_to_first_order"]
        shown = f"{median:8.1f}" if median is not None else "       -"
        print(f"  {c['first_touch_month']:%Y-%m}  contacts {c['contacts']:>8,}"
              f"  buyers {c['buyers']:>8,}  median days {shown}")  # fmt: skip
    print("\ncustomer lifetime value by acquisition product (first order)")
    for v in rep["clv"]:
        print(f"  {v['acquisition_product']:<28}{v['customers']:>8,} customers"
              f"  avg {v['avg_revenue']:>10,.2f}  total {v['total_revenue']:>12,.2f}")  # fmt: skip
    print("\nengagement levels")
    for e in rep["engagement"]:
        print(f"  {e['engagement_level']:<6}{e['contacts']:>10,}")
    print("\nwin-back response by months since the last order (closed attribution windows)")
    if not rep["winback"]:
        print("  no win-back message has a closed window yet")
    for w in rep["winback"]:
        months = "unknown" if w["months_since_order"] < 0 else f"{w['months_since_order']:>3} mo"
        print(f"  {months:<8}reached {w['reached']:>7,} bought {rate(w, 'reached'):>6}"
              f"   holdout {w['holdout']:>6,} bought {rate(w, 'holdout'):>6}")  # fmt: skip
    return 0


def rate(row: dict, group: str) -> str:
    """``converted / contacts`` of one group of a win-back row, as a percentage."""
    n = row[group]
    return f"{100 * row[group + '_converted'] / n:.1f}%" if n else "-"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phases", help="work with the phase files in sql/phases")
    phases = p.add_subparsers(dest="phases_command", required=True)
    check = phases.add_parser("check", help="parse and EXPLAIN every phase file")
    check.set_defaults(func=cmd_phases_check)

    p = sub.add_parser("explain", help="why is this contact in its phase?")
    p.add_argument("contact_id")
    p.add_argument(
        "--date", type=parse_date, help="as of this logical date (default: the last run)"
    )
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("report", help="phase counts, transitions, cohorts, lifetime value")
    p.add_argument("--date", type=parse_date, help="logical date (default: the last run)")
    p.set_defaults(func=cmd_report)
