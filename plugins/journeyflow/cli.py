"""The ``journeyflow`` command: run the pipeline, look into it, plan and preview campaigns."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from typing import Any


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-21") from None


def yesterday() -> date:
    from journeyflow import settings

    return datetime.now(settings.load_config().tz).date() - timedelta(days=1)


def cmd_migrate(args: argparse.Namespace) -> int:
    from journeyflow import migrate

    applied = migrate.migrate()
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def run_dag(run_date: date) -> tuple[str, float]:
    """Run ``journeyflow_nightly`` for D once with ``dag.test()``; returns (state, seconds)."""
    from journeyflow import airflow_env, settings

    airflow_env.ensure_metadata_db()
    dag = airflow_env.load_dag()
    for task in dag.tasks:  # a person at the terminal wants the error now; the scheduler retries
        task.retries = 0
    logical = datetime.combine(run_date, datetime.min.time().replace(hour=2)).replace(
        tzinfo=settings.load_config().tz
    )
    started = time.perf_counter()
    dag_run = dag.test(logical_date=logical)
    return str(getattr(dag_run.state, "value", dag_run.state)), time.perf_counter() - started


def cmd_run(args: argparse.Namespace) -> int:
    from journeyflow import airflow_env, pipeline

    airflow_env.configure()
    state, seconds = run_dag(args.date)
    print(format_summary(pipeline.summary(args.date), state, seconds))
    return 0 if state == "success" else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded DB + demo shop + one nightly run, then stop what was started."""
    from journeyflow import airflow_env, pipeline, settings, warehouse
    from journeyflow.demo_source import DemoSourceServer
    from journeyflow.demo_source import config as demo_config
    from journeyflow.demo_source.config import dataset_for

    airflow_env.configure()
    run_date = args.date or yesterday()
    if args.contacts:
        demo_config.configure(args.contacts, run_date)
    db_was_running = (
        os.environ.get("AIRFLOW_CONN_JOURNEYFLOW_DB") is not None or _embedded_running()
    )
    dataset = dataset_for(run_date)
    token = secrets.token_urlsafe(16)
    clock = settings.load_config().cutoff(run_date).timestamp()
    with DemoSourceServer(dataset, clock=clock, token=token) as source:
        os.environ["AIRFLOW_CONN_JOURNEYFLOW_SOURCE"] = json.dumps(
            {"conn_type": "http", "host": source.url, "password": token}
        )
        print(f"demo shop: {dataset.size:,} contacts anchored at {dataset.anchor} on {source.url}")
        print(f"warehouse: embedded PostgreSQL in {warehouse.pgdata_dir()}")
        print(f"running journeyflow_nightly for {run_date} ...", flush=True)
        state, seconds = run_dag(run_date)
        summary = pipeline.summary(run_date)
    if not db_was_running:
        warehouse.stop_embedded()
    print(format_summary(summary, state, seconds))
    return 0 if state == "success" else 1


def _embedded_running() -> bool:
    from journeyflow import settings, warehouse

    settings.runtime_dir()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(warehouse.pgdata_dir())
    return info is not None and info.is_running()


def format_summary(summary: dict[str, Any], state: str, seconds: float) -> str:
    from journeyflow import settings

    lines = [
        "",
        f"journeyflow_nightly {summary['run_date']}: {state.upper()} in {seconds:.1f}s",
        "",
        f"  {'step':<26}{'rows in':>12}{'rows out':>12}{'quarantined':>13}{'seconds':>10}",
    ]
    for step in summary["steps"]:
        lines.append(
            f"  {step['step']:<26}{step['rows_in'] or 0:>12,}{step['rows_out'] or 0:>12,}"
            f"{step['quarantined'] or 0:>13,}{step['seconds'] or 0:>10.2f}"
        )
    if summary["quarantine"]:
        lines += ["", "  quarantined this run, by reason:"]
        for q in summary["quarantine"]:
            lines.append(f"  {q['records']:>8,}  {q['stream']:<9} {q['reason']}")
    gate = summary.get("gate") or []
    if gate:
        verdicts = [g["verdict"] for g in gate]
        verdict = "FAILED" if "failed" in verdicts else "passed"
        counts = {v: verdicts.count(v) for v in ("passed", "warning", "failed")}
        lines += [
            "",
            f"  quality gate: {verdict} ({counts['passed']} checks passed, "
            f"{counts['warning']} warnings, {counts['failed']} failed)",
        ]
        for g in gate:
            bad = g["unexpected_count"]
            if g["verdict"] == "passed" and bad:
                lines.append(f"  {'flagged':>8}  {g['check_name']}: {bad:,} rows (kept, marked)")
            elif g["verdict"] != "passed":
                what = f"{bad:,} rows bad" if bad is not None else f"observed {g['observed_value']}"
                lines.append(f"  {g['verdict']:>8}  {g['check_name']}: {what}")
        docs = settings.home() / "data_docs" / summary["run_date"] / "index.html"
        lines.append(f"  data docs: {docs}")
    if summary.get("phases"):
        lines += ["", f"  {'phase':<14}{'contacts':>10}{'change':>9}", *_phase_lines(summary)]
    lines += _campaign_lines(summary)
    totals = summary["totals"]
    lines += [
        "",
        f"  warehouse now: {totals['contacts']:,} contacts, {totals['events']:,} events, "
        f"{totals['quarantined']:,} records in quarantine",
    ]
    return "\n".join(lines)


def _campaign_lines(summary: dict[str, Any]) -> list[str]:
    from journeyflow import settings
    from journeyflow.connections import get_connection

    rows = summary.get("campaigns") or []
    if not rows:
        return []
    per: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        per.setdefault((r["campaign"], r["channel"]), {})[r["decision"]] = r["contacts"]
    lines = ["", "  campaign decisions (journeyflow plan / explain tell why):"]
    for (campaign, channel), counts in per.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        lines.append(f"  {campaign:<22}{channel:<8}{shown}")
    d = summary["run_date"]
    if get_connection("journeyflow_smtp") is None:
        lines.append(f"  emails: .eml files in {settings.home() / 'outbox' / d}")
    if get_connection("journeyflow_postal_drop") is None and any(
        r["decision"] == "exported" for r in rows
    ):
        lines.append(f"  letters: mailing files in {settings.home() / 'postal'}/<campaign>/{d}")
    for step in summary["steps"]:
        if not step["step"].startswith("export_postal."):
            continue
        details = step["details"] or {}
        campaign = step["step"].removeprefix("export_postal.")
        lines.append(
            f"  {campaign} letters: {details.get('rows', 0):,} pieces in "
            f"{details.get('file') or 'no file'}, {details.get('rejected', 0):,} rejected"
            " (journeyflow.postal_rejects)"
        )
        lines += [f"  warning: {w}" for w in details.get("warnings") or []]
    return lines


def _phase_lines(data: dict[str, Any]) -> list[str]:
    return [f"  {p['phase']:<14}{p['contacts']:>10,}{p['change']:>+9,}" for p in data["phases"]]


def cmd_demo_source(args: argparse.Namespace) -> int:
    """Serve the demo shop in the foreground (for benchmarks or pointing a real Airflow at)."""
    from journeyflow import settings
    from journeyflow.demo_source import DemoDataset, DemoSourceServer

    anchor = args.anchor or yesterday()
    dataset = DemoDataset(args.contacts, anchor=anchor, seed=args.seed)
    clock = settings.load_config().cutoff(args.clock or anchor).timestamp()
    server = DemoSourceServer(dataset, clock=clock, token=args.token, port=args.port)
    if args.prerender:
        started = time.perf_counter()
        pages = server.prerender(args.prerender)
        print(f"prerendered {pages:,} pages in {time.perf_counter() - started:.1f}s", flush=True)
    print(f"demo shop on {server.url} ({args.contacts:,} contacts, anchor {anchor})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """``airflow standalone`` on this repository: UI at http://localhost:PORT."""
    from journeyflow import airflow_env, warehouse

    home = airflow_env.configure()
    os.environ.setdefault("AIRFLOW__API__PORT", str(args.port))
    os.environ.setdefault("AIRFLOW__API__BASE_URL", f"http://localhost:{args.port}")
    airflow_env.ensure_metadata_db()
    warehouse.start_embedded()
    print(f"Airflow UI: http://localhost:{args.port}  (user admin)")
    print(f"password: see {home / 'simple_auth_manager_passwords.json.generated'}", flush=True)
    bin_dir = os.path.dirname(sys.executable)  # standalone starts its parts as `airflow ...`
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    airflow = os.path.join(bin_dir, "airflow")
    proc = subprocess.Popen([airflow, "standalone"], start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        return proc.wait()


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
    from journeyflow import lifecycle

    run_date = args.date or _last_run_date()
    try:
        why = lifecycle.explain(args.contact_id, run_date)
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    print(f"contact {why['contact_id']} as of {why['run_date']} (cut-off {why['cutoff']})\n")
    skip = {"contact_id", "run_date"}
    for key, value in why["facts"].items():
        if key not in skip:
            print(f"  {key:<22} {_show(value)}")
    print()
    for rule in why["rules"]:
        mark = "MATCH" if rule["matched"] else "  -  "
        values = ", ".join(f"{k}={_show(v)}" for k, v in rule["values"].items())
        print(f"  {mark} {rule['priority']:>3} {rule['phase']:<14} {rule['rule']}")
        if values:
            print(f"  {'':>10}{'':<15}{values}")
    print(f"\nphase: {why['phase']} (first match wins)")
    from journeyflow import campaigns

    decisions = campaigns.decisions_for(args.contact_id, args.date)
    if decisions:
        print(f"\ncampaign decisions of {decisions[0]['run_date']}")
        for d in decisions:
            print(f"  {d['campaign']:<20} step {d['step']}  {d['channel']:<6} "
                  f"{d['decision']:<9} {d['reason']}")  # fmt: skip
    return 0


def _last_run_date() -> date:
    from sqlalchemy import text

    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        last = conn.execute(text("select max(run_date) from journeyflow.phase_runs")).scalar()
    return last or yesterday()


def cmd_plan(args: argparse.Namespace) -> int:
    from journeyflow import campaigns

    d = args.date or _last_run_date()
    last = _last_run_date()
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


def cmd_preview(args: argparse.Namespace) -> int:
    from email import message_from_string, policy

    from journeyflow import outbox
    from journeyflow.render import Renderer

    recipient = outbox.load_recipient(args.contact_id)
    if recipient is None:
        print(f"journeyflow: no contact {args.contact_id!r}", file=sys.stderr)
        return 1
    renderer = Renderer().with_sender(outbox.sender_address())
    _, body = renderer.message(recipient, args.campaign, args.step, 1, args.date or yesterday())
    if args.raw:
        print(body.replace("\r\n", "\n"))
        return 0
    msg = message_from_string(body, policy=policy.default)
    for header in ("From", "To", "Subject", "List-Unsubscribe", "X-Campaign", "X-Campaign-Step"):
        print(f"{header}: {msg[header]}")
    print()
    print(msg.get_body(("plain",)).get_content())
    if args.html:
        print(msg.get_body(("html",)).get_content())
    return 0


def cmd_templates_check(args: argparse.Namespace) -> int:
    from journeyflow import render

    errors = render.check_templates()
    for error in errors:
        print(f"  error  {error}", file=sys.stderr)
    print(f"templates checked for every campaign step in {', '.join(render.LANGUAGES)}: "
          f"{len(errors)} errors")  # fmt: skip
    return 1 if errors else 0


def cmd_send(args: argparse.Namespace) -> int:
    from journeyflow import campaigns, outbox

    d = args.date or _last_run_date()
    names = args.campaign or [c for c in campaigns.campaign_names()]
    for name in names:
        result = outbox.send(name, d)
        print(f"{name}: {json.dumps(result.as_dict(), default=str)}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from journeyflow import outbox

    if args.resolve:
        n = outbox.resolve(args.date, args.resolve, args.campaign, args.id)
        print(f"{n} in-doubt message(s) of {args.date} marked {args.resolve}")
        return 0
    for campaign, channel, status, n in outbox.status_counts(args.date):
        print(f"  {campaign:<22}{channel:<8}{status:<11}{n:>10,}")
    doubtful = list(outbox.iter_in_doubt())
    if doubtful:
        print(f"\n{len(doubtful)} message(s) in doubt: check the mail server log, then "
              "`journeyflow outbox --date D [--id N] --resolve sent|resend`")  # fmt: skip
        for oid, d, campaign, step, contact_id, msg_id in doubtful[:50]:
            print(f"  outbox {oid}  {d}  {campaign} step {step}  contact {contact_id}  {msg_id}")
    return 0


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


def cmd_unsubscribe_server(args: argparse.Namespace) -> int:
    import uvicorn

    from journeyflow import unsubscribe, warehouse

    warehouse.engine()
    uvicorn.run(unsubscribe.create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def cmd_report(args: argparse.Namespace) -> int:
    from journeyflow import lifecycle

    try:
        rep = lifecycle.read_report(args.date)
    except LookupError as exc:
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 1
    print(f"journeyflow report for {rep['run_date']}\n")
    print("contacts per phase (change since the run before)")
    print("\n".join(_phase_lines(rep)))
    print("\ntransitions this run (from -> to)")
    for t in rep["transitions"]:
        print(f"  {t['from_phase']:>14} -> {t['to_phase']:<14}{t['contacts']:>10,}")
    print("\nmedian days from first contact to first order, by signup month")
    for c in rep["cohorts"]:
        median = c["median_days_to_first_order"]
        shown = f"{median:8.1f}" if median is not None else "       -"
        print(f"  {c['signup_month']:%Y-%m}  contacts {c['contacts']:>8,}  buyers {c['buyers']:>8,}"
              f"  median days {shown}")  # fmt: skip
    print("\ncustomer lifetime value by acquisition product (first order)")
    for v in rep["clv"]:
        print(f"  {v['acquisition_product']:<28}{v['customers']:>8,} customers"
              f"  avg {v['avg_revenue']:>10,.2f}  total {v['total_revenue']:>12,.2f}")  # fmt: skip
    print("\nengagement levels")
    for e in rep["engagement"]:
        print(f"  {e['engagement_level']:<6}{e['contacts']:>10,}")
    return 0


def cmd_stop_db(args: argparse.Namespace) -> int:
    from journeyflow import warehouse

    print("stopped" if warehouse.stop_embedded() else "embedded PostgreSQL was not running")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="journeyflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the nightly pipeline once on the embedded default")
    p.add_argument("--date", type=_date, help="logical date D (default: yesterday)")
    p.add_argument("--contacts", type=int, help="demo shop size (pins a new dataset)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run journeyflow_nightly for one logical date")
    p.add_argument("--date", type=_date, required=True, help="logical date D, YYYY-MM-DD")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("migrate", help="apply pending sql/schema files")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo-source", help="serve the demo shop over HTTP")
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--anchor", type=_date, help="date the dataset is built around")
    p.add_argument("--clock", type=_date, help="serve what happened up to the end of this date")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", help="require this bearer token")
    p.add_argument(
        "--prerender",
        type=int,
        metavar="LIMIT",
        help="render the full pull at this page size up front (benchmarks)",
    )
    p.set_defaults(func=cmd_demo_source)

    p = sub.add_parser("up", help="start the Airflow UI locally (airflow standalone)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("phases", help="work with the phase files in sql/phases")
    phases = p.add_subparsers(dest="phases_command", required=True)
    check = phases.add_parser("check", help="parse and EXPLAIN every phase file")
    check.set_defaults(func=cmd_phases_check)

    p = sub.add_parser("explain", help="why is this contact in its phase?")
    p.add_argument("contact_id")
    p.add_argument("--date", type=_date, help="as of this logical date (default: the last run)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("report", help="phase counts, transitions, cohorts, lifetime value")
    p.add_argument("--date", type=_date, help="logical date (default: the last run)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("plan", help="what would each campaign send, hold and exclude (dry run)")
    p.add_argument("--date", type=_date, help="logical date D (default: the last run)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("preview", help="render one campaign email for one contact")
    p.add_argument("campaign")
    p.add_argument("step", type=int)
    p.add_argument("contact_id")
    p.add_argument("--date", type=_date, help="logical date D (offer validity counts from it)")
    p.add_argument("--html", action="store_true", help="also print the HTML part")
    p.add_argument("--raw", action="store_true", help="print the whole message as sent")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("templates", help="work with the email templates")
    templates = p.add_subparsers(dest="templates_command", required=True)
    check = templates.add_parser("check", help="render every template for sample contacts")
    check.set_defaults(func=cmd_templates_check)

    p = sub.add_parser("send", help="send what the outbox holds (the DAG does this nightly)")
    p.add_argument("--date", type=_date, help="send queued messages up to this run date")
    p.add_argument("--campaign", action="append", help="only this campaign (repeatable)")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("outbox", help="outbox states; settle messages in doubt")
    p.add_argument("--date", type=_date, help="only this run date")
    p.add_argument("--campaign", help="only this campaign (with --resolve)")
    p.add_argument("--id", type=int, action="append", help="only this outbox id (with --resolve)")
    p.add_argument(
        "--resolve", choices=("sent", "resend"), help="settle in-doubt messages of --date"
    )
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("postal", help="postal mailings and their delivery; settle one in doubt")
    p.add_argument("--date", type=_date, help="only this run date")
    p.add_argument("--campaign", help="the campaign (with --resolve)")
    p.add_argument(
        "--resolve",
        choices=("delivered", "resend"),
        help="settle a mailing whose .done upload was in doubt",
    )
    p.set_defaults(func=cmd_postal)

    p = sub.add_parser("unsubscribe-server", help="serve the unsubscribe endpoint locally")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.set_defaults(func=cmd_unsubscribe_server)

    p = sub.add_parser("stop-db", help="stop the embedded PostgreSQL")
    p.set_defaults(func=cmd_stop_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient")
    from journeyflow.campaigns import AudienceError, StaleFactsError
    from journeyflow.lifecycle import PhaseFileError
    from journeyflow.migrate import MigrationError
    from journeyflow.outbox import SenderError
    from journeyflow.postal.export import PostalExportError
    from journeyflow.render import TemplateError
    from journeyflow.settings import ConfigError
    from journeyflow.source import SourceError

    if getattr(args, "resolve", None) and args.date is None:
        print("journeyflow: --resolve needs --date", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (
        ConfigError, MigrationError, SourceError, PhaseFileError, AudienceError, TemplateError,
        SenderError, StaleFactsError, PostalExportError,
    ) as exc:  # fmt: skip
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
