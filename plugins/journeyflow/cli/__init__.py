"""The ``journeyflow`` command: run the pipeline, look into it, plan and preview campaigns.

One module per command group registers its sub-commands; ``main`` turns the errors a person can
fix (config, files, connections) into one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from journeyflow.cli import campaigns, identity, learn, lifecycle, pipeline, postal


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="journeyflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (pipeline, lifecycle, campaigns, learn, postal, identity):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient")
    from journeyflow.campaigns import AudienceError, StaleFactsError
    from journeyflow.config import ConfigError
    from journeyflow.connections import MissingConnection
    from journeyflow.email.render import TemplateError
    from journeyflow.email.transport import SenderError
    from journeyflow.ingest import SourceError
    from journeyflow.lifecycle import PhaseFileError
    from journeyflow.migrate import MigrationError
    from journeyflow.postal.drop import DeliveryError
    from journeyflow.postal.export import PostalExportError
    from journeyflow.runlog import RunLocked
    from journeyflow.unsubscribe.links import UnreachableLink

    if getattr(args, "resolve", None) and args.date is None:
        print("journeyflow: --resolve needs --date", file=sys.stderr)
        return 2
    from journeyflow import progress

    before = progress.install(progress.TerminalReporter())  # live progress for a person
    try:
        return args.func(args)
    except (
        ConfigError, MigrationError, SourceError, PhaseFileError, AudienceError, TemplateError,
        SenderError, StaleFactsError, PostalExportError, MissingConnection, RunLocked,
        UnreachableLink, DeliveryError,
    ) as exc:  # fmt: skip
        print(f"journeyflow: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.install(before).close()
