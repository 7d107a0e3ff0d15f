"""Commands about a person's data: ``forget`` (GDPR Art. 17) and ``export-data`` (Art. 15)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_forget(args: argparse.Namespace) -> int:
    from journeyflow import erasure

    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"journeyflow: forgetting {args.contact_id} cannot be undone; add --yes to go on",
                file=sys.stderr,
            )
            return 2
        answer = input(f"forget contact {args.contact_id} for good (cannot be undone)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was changed")
            return 1
    try:
        (done,) = erasure.forget([args.contact_id], requested_by="cli")
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    if done.already:
        print(f"contact {args.contact_id} was forgotten before (its rows carry {done.pseudonym})")
        return 0
    print(f"contact {args.contact_id} is forgotten: its rows now carry {done.pseudonym}")
    for table, rows in sorted(done.rows.items()):
        print(f"  {table:<22}{rows:>8,} rows scrubbed")
    for kind, files in sorted(done.files.items()):
        print(f"  {kind.replace('_', ' '):<22}{files:>8,}")
    for name in done.mailings_rebuilt:
        print(f"  undelivered mailing {name}: taken apart, the next export builds it without them")
    for name in done.mailings_scrubbed:
        print(f"  delivered mailing {name}: the stored copy lost their lines")
    print("a keyed hash of the contact id and the email address stays, so that the source "
          "sending them again stores and mails nothing")  # fmt: skip
    return 0


def cmd_export_data(args: argparse.Namespace) -> int:
    from journeyflow import erasure

    try:
        found = erasure.export_data(args.contact_id)
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(found, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n"
    if args.out:
        path = Path(args.out)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        print(f"everything held about {args.contact_id}: {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forget",
        help="forget a person for good (GDPR Art. 17): scrub the warehouse and local files",
    )
    p.add_argument("contact_id")
    p.add_argument("--yes", action="store_true", help="do not ask (it cannot be undone)")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("export-data", help="everything held about a person as JSON (GDPR Art. 15)")
    p.add_argument("contact_id")
    p.add_argument("--out", help="write to this file (mode 0600) instead of standard output")
    p.set_defaults(func=cmd_export_data)
