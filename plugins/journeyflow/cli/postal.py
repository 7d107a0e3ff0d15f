"""``journeyflow postal``: mailings, their delivery, and settling one in doubt."""

from __future__ import annotations

import argparse
import sys

from journeyflow.cli.format import parse_date


def cmd_postal(args: argparse.Namespace) -> int:
    from journeyflow.postal import export

    if args.resolve:
        if not args.campaign:
            print("journeyflow: --resolve needs --campaign", file=sys.stderr)
            return 2
        n = export.resolve(args.date, args.campaign, args.resolve)
        print(f"{n} mailing(s) of {args.campaign} {args.date} in doubt marked {args.resolve}")
        return 0
    rows = export.mailings(args.date)
    print(f"  {'date':<12}{'campaign':<22}{'pieces':>8}{'rejected':>10}  delivered")
    for m in rows:
        if m["delivered_at"]:
            state = f"{m['delivered_at']:%Y-%m-%d %H:%M}"
        elif m["marker_at"]:
            state = "IN DOUBT: ask the vendor, then --resolve delivered|resend"
        else:
            state = "not yet (the next export delivers it)"
        print(f"  {m['run_date']!s:<12}{m['campaign']:<22}{m['rows']:>8,}{m['rejected']:>10,}"
              f"  {state}")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("postal", help="postal mailings and their delivery; settle one in doubt")
    p.add_argument("--date", type=parse_date, help="only this run date")
    p.add_argument("--campaign", help="the campaign (with --resolve)")
    p.add_argument(
        "--resolve",
        choices=("delivered", "resend"),
        help="settle a mailing whose .done upload was in doubt",
    )
    p.set_defaults(func=cmd_postal)
