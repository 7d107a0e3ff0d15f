"""``journeyflow results``: per campaign, step and variant the conversions within the attribution
window and the uplift over the holdout."""

from __future__ import annotations

import argparse
import json

from journeyflow.cli.format import parse_date

HEADER = (f"  {'step':<5}{'variant':<10}{'contacts':>10}  {'converted':>9}{'rate':>8}"
          f"{'rev/contact':>13}   uplift, 95 % CI")  # fmt: skip


def format_results(res) -> str:  # noqa: ANN001 (journeyflow.learn.results.Results)
    """The results as a table per campaign, with one sentence per comparison."""
    if not res.rows:
        return ("no campaign results yet: results count the messages a run sent (and the "
                "contacts a holdout kept) once the nightly run has measured them")  # fmt: skip
    lines = [
        f"campaign results: purchases within {res.attribution_days} days after the run date "
        "of each message",
        "uplift: conversion rate minus the holdout's (or the first variant's), in points; 95 % "
        "CI by Newcombe's hybrid score method",
    ]
    campaign, still_open = None, False
    for r in res.rows:
        if r.campaign != campaign:
            campaign = r.campaign
            lines += ["", f"{campaign}", HEADER]
        uplift = ""
        if r.uplift is not None:
            uplift = (f"{r.uplift * 100:+.1f} ({r.low * 100:+.1f} to {r.high * 100:+.1f}) "
                      f"vs {r.against}")  # fmt: skip
        mark = "*" if r.open_dates else " "
        still_open = still_open or bool(r.open_dates)
        lines.append(f"  {r.step:<5}{r.variant:<10}{r.contacts:>10,}{mark} {r.converted:>9,}"
                     f"{r.rate * 100:>7.1f}%{r.revenue_per_contact:>13.2f}   "
                     f"{uplift}".rstrip())  # fmt: skip
    if still_open:
        lines += ["", "* counted so far: some of its run dates are still inside the window"]
    sentences = [r for r in res.rows if r.verdict]
    if sentences:
        lines.append("")
        for r in sentences:
            lines.append(f"{r.campaign} step {r.step} variant {r.variant}: {r.verdict}")
    return "\n".join(lines)


def cmd_results(args: argparse.Namespace) -> int:
    from journeyflow.config import load_config
    from journeyflow.learn.results import read_results

    if args.campaign is not None:
        load_config().campaigns.get(args.campaign)  # an unknown name: one line naming the list
    res = read_results(args.date, args.campaign)
    if args.json:
        from journeyflow.runlog import plain

        print(json.dumps(res.as_dict(), default=plain, indent=2))
    else:
        print(format_results(res))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="campaign conversions, variants and uplift over the holdout")
    p.add_argument("--campaign", help="one campaign of campaigns.list")
    p.add_argument("--date", type=parse_date, help="count the run dates up to D (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_results)
