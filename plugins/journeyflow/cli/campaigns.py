"""Commands about campaigns and email: ``plan``, ``preview``, ``templates check``, ``send``,
``outbox``, ``unsubscribe-server``."""

from __future__ import annotations

import argparse
import json
import sys

from journeyflow.cli.format import last_run_date, parse_date, yesterday


def cmd_plan(args: argparse.Namespace) -> int:
    from journeyflow import campaigns

    d = args.date or last_run_date()
    last = last_run_date()
    plan = campaigns.plan(d)
    print(f"campaign plan for {d} (dry run: nothing is queued or sent)")
    if last != d:
        print(f"note: phases and facts are those of the last run, {last}")
    for name, counts in plan.counts.items():
        total = sum(counts.values())
        summary = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "no candidates"
        print(f"\n  {name}: {total:,} candidates: {summary}")
        for reason, n in plan.reasons[name].most_common():
            print(f"    {n:>9,}  {reason}")
    return 0


def _preview_summary(args: argparse.Namespace) -> int:
    """The morning summary of D (default: the last run) as it would be sent."""
    from journeyflow.config import load_config
    from journeyflow.notify.morning import render

    d = args.date or last_run_date()
    subject, text, html = render(d, args.language)
    print(f"To: {', '.join(load_config().summary.to) or '(summary.to is empty: not sent)'}")
    print(f"Subject: {subject}\n")
    print(html if args.html else text)
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from email import message_from_string, policy

    from journeyflow.config import load_config
    from journeyflow.config.model import HOLDOUT
    from journeyflow.email.enqueue import load_recipient
    from journeyflow.email.render import Renderer
    from journeyflow.email.transport import sender_address
    from journeyflow.learn.assign import assignment

    if args.campaign == "summary":
        return _preview_summary(args)
    if args.step is None or args.contact_id is None:
        print("journeyflow: preview <campaign> <step> <contact_id> (or: preview summary)",
              file=sys.stderr)  # fmt: skip
        return 2
    campaign = load_config().campaigns.get(args.campaign)
    if args.step not in dict(campaign.steps):
        steps = ", ".join(str(s) for s, _ in campaign.steps)
        print(f"journeyflow: {campaign.name} has no step {args.step} (steps: {steps})",
              file=sys.stderr)  # fmt: skip
        return 2
    variants = campaign.variant_names(args.step)
    if args.variant is not None and args.variant not in variants:
        print(f"journeyflow: {campaign.name} step {args.step} has no variant {args.variant!r} "
              f"(variants: {', '.join(variants)}; the holdout gets no message)",
              file=sys.stderr)  # fmt: skip
        return 2
    recipient = load_recipient(args.contact_id)
    if recipient is None:
        print(f"journeyflow: no contact {args.contact_id!r}", file=sys.stderr)
        return 1
    variant = args.variant
    if variant is None:
        variant = assignment(campaign, args.step, args.contact_id)
        if variant == HOLDOUT:
            variant = variants[0]
            print(f"note: {args.contact_id} is in the holdout of {campaign.name} and gets no "
                  f"message; this is variant {variant}", file=sys.stderr)  # fmt: skip
    renderer = Renderer().with_sender(sender_address())
    _, body = renderer.message(
        recipient, args.campaign, args.step, 1, args.date or yesterday(), variant=variant
    )
    if args.raw:
        print(body.replace("\r\n", "\n"))
        return 0
    msg = message_from_string(body, policy=policy.default)
    headers = ("From", "To", "Subject", "List-Unsubscribe", "X-Campaign", "X-Campaign-Step",
               "X-Campaign-Variant")  # fmt: skip
    for header in headers:
        print(f"{header}: {msg[header]}")
    print()
    print(msg.get_body(("plain",)).get_content())
    if args.html:
        print(msg.get_body(("html",)).get_content())
    return 0


def cmd_templates_check(args: argparse.Namespace) -> int:
    from journeyflow.email.render import LANGUAGES
    from journeyflow.email.templates import check_templates

    errors = check_templates()
    for error in errors:
        print(f"  error  {error}", file=sys.stderr)
    print(f"templates checked for every campaign step in {', '.join(LANGUAGES)}: "
          f"{len(errors)} errors")  # fmt: skip
    return 1 if errors else 0


def cmd_send(args: argparse.Namespace) -> int:
    from journeyflow import campaigns
    from journeyflow.email.sender import send

    d = args.date or last_run_date()
    for name in args.campaign or campaigns.campaign_names():
        result = send(name, d)
        print(f"{name}: {json.dumps(result.as_dict(), default=str)}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from journeyflow.email import admin

    if args.resolve:
        n = admin.resolve(args.date, args.resolve, args.campaign, args.id)
        print(f"{n} in-doubt message(s) of {args.date} marked {args.resolve}")
        return 0
    if args.cancel_queued:
        if not (args.date and args.campaign):
            print("journeyflow: --cancel-queued needs --date and --campaign", file=sys.stderr)
            return 2
        n = admin.cancel_queued(args.date, args.campaign)
        print(f"{n} queued message(s) of {args.campaign} up to {args.date} cancelled")
        return 0
    for campaign, channel, status, n in admin.status_counts(args.date):
        print(f"  {campaign:<22}{channel:<8}{status:<11}{n:>10,}")
    doubtful = admin.in_doubt()
    if doubtful:
        print(f"\n{len(doubtful)} message(s) in doubt: check the mail server log, then "
              "`journeyflow outbox --date D [--id N] --resolve sent|resend`")  # fmt: skip
        for oid, d, campaign, step, contact_id, msg_id in doubtful[:50]:
            print(f"  outbox {oid}  {d}  {campaign} step {step}  contact {contact_id}  {msg_id}")
    return 0


def cmd_unsubscribe_server(args: argparse.Namespace) -> int:
    import uvicorn

    from journeyflow import warehouse
    from journeyflow.unsubscribe import create_app

    warehouse.engine()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="what would each campaign send, hold and exclude (dry run)")
    p.add_argument("--date", type=parse_date, help="logical date D (default: the last run)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "preview", help="render one campaign email for one contact, or the morning summary"
    )
    p.add_argument("campaign", help="a campaign of campaigns.list, or summary")
    p.add_argument("step", type=int, nargs="?")
    p.add_argument("contact_id", nargs="?")
    p.add_argument("--language", choices=("de", "en"), help="summary: its language")
    p.add_argument("--date", type=parse_date, help="logical date D (offer validity counts from it)")
    p.add_argument("--html", action="store_true", help="also print the HTML part")
    p.add_argument("--variant", help="the variant of the step (default: the one the contact gets)")
    p.add_argument("--raw", action="store_true", help="print the whole message as sent")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("templates", help="work with the email templates")
    templates = p.add_subparsers(dest="templates_command", required=True)
    check = templates.add_parser("check", help="render every template for sample contacts")
    check.set_defaults(func=cmd_templates_check)

    p = sub.add_parser("send", help="send what the outbox holds (the DAG does this nightly)")
    p.add_argument("--date", type=parse_date, help="send queued messages up to this run date")
    p.add_argument("--campaign", action="append", help="only this campaign (repeatable)")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("outbox", help="outbox states; settle messages in doubt")
    p.add_argument("--date", type=parse_date, help="only this run date")
    p.add_argument("--campaign", help="only this campaign (with --resolve)")
    p.add_argument("--id", type=int, action="append", help="only this outbox id (with --resolve)")
    p.add_argument(
        "--resolve", choices=("sent", "resend"), help="settle in-doubt messages of --date"
    )
    p.add_argument(
        "--cancel-queued",
        action="store_true",
        help="cancel the queued emails of --campaign up to --date (the next run queues them anew)",
    )
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("unsubscribe-server", help="serve the unsubscribe endpoint locally")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.set_defaults(func=cmd_unsubscribe_server)
