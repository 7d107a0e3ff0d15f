"""What to do when a night fails: one entry per failure the person on call can meet.

The DAG's documentation (the Airflow UI's "Docs" of ``journeyflow_nightly``) lists them, and an
alert quotes the entry that matches the failed task and its error, so the two never drift apart.
Light at import: the DAG file imports it while the scheduler parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch


@dataclass(frozen=True)
class Entry:
    title: str  # what the person sees, as Markdown
    tasks: str  # task ids it is about (a glob; "*": any)
    error: str | None  # a regular expression the error must match (case-insensitive), or None
    next_step: str  # what to do, as Markdown

    def matches(self, task_id: str, error: str) -> bool:
        return fnmatch(task_id, self.tasks) and (
            self.error is None or re.search(self.error, error, re.IGNORECASE) is not None
        )


ENTRIES = (
    Entry("check_connections failed \"connection ... is not defined\"", "check_connections",
          r"is not defined",
          "a connection is missing; the message names it and shows how to set it. Nothing was "
          "changed. Add it, then clear the task."),
    Entry("check_connections failed \"the unsubscribe links would point at ...\"",
          "check_connections", r"unsubscribe links would point",
          "set the host of `journeyflow_unsubscribe` to the public https URL of the unsubscribe "
          "endpoint."),
    Entry("any task failed \"another run is working\"", "*", r"another run|run lock|in progress",
          "a second run (the CLI, a manual run) held the run lock longer than "
          "`run.lock_wait_minutes`; nothing was changed. Clear the task when it ends."),
    Entry("a task failed with a timeout", "*", r"AirflowTaskTimeout|Timeout, PID|execution_timeout",
          "it ran longer than `run.task_timeout_minutes` (or its `run.task_timeouts` entry). "
          "Every step is a transaction or idempotent: clear it."),
    Entry("extract_* failed with HTTP 401/403", "extract_*", r"\b40[13]\b",
          "the bearer token (password of `journeyflow_source`) is wrong or expired. Fix the "
          "connection, then *Clear* the failed task."),
    Entry("extract_* failed after retries (429/5xx/timeouts)", "extract_*", None,
          "the source is down or throttling. Nothing was committed for that stream; clearing "
          "the task later is safe."),
    Entry("load failed \"staging holds no extract\"", "load", None,
          "clear the extract tasks of the same run."),
    Entry("migrate failed \"text has changed\"", "migrate", None,
          "somebody edited an applied file in `sql/schema/`; restore it and put the change in "
          "a new file."),
    Entry("quality_gate_failed", "quality_gate_failed", None,
          "a critical data quality check failed and stopped the night before the merge: no "
          "campaign ran. The message names the check, the column and the number of bad rows, "
          "and the warehouse was not changed. Look at the Data Docs "
          "(`$JOURNEYFLOW_HOME/data_docs/<date>/index.html`, or the cockpit's Data quality page) "
          "and `journeyflow.validation_results`, fix the source (or, if the data is right and "
          "the rule is wrong, the check in `journeyflow.yaml`), then clear `extract_*` of this "
          "run."),
    Entry("quality_gate failed with \"Great Expectations could not validate\"", "quality_gate",
          None, "GX itself broke (database unreachable, ...). Nothing was merged; fix the cause "
          "and clear the task."),
    Entry("assign_phases failed naming `sql/phases/<file>`", "assign_phases", None,
          "a phase file is broken; run `journeyflow phases check` locally, fix the file, clear "
          "the task."),
    Entry("decide_campaigns failed naming `sql/campaigns/<file>` or `email_templates/...`",
          "decide_campaigns", None,
          "an audience query or a template is broken; run `journeyflow plan` / `journeyflow "
          "templates check` locally, fix it, clear the task. Nothing was queued (decisions and "
          "outbox are one transaction)."),
    Entry("`<campaign>.send` failed \"SMTP ... unreachable\"", "*.send", r"unreachable|connect",
          "the mail server (`journeyflow_smtp`) is down; every unsent message is still queued. "
          "Clear the task when the server is back; nothing is sent twice."),
    Entry("`<campaign>.send` failed \"refused 3 messages in a row\" or \"refuses to send for "
          "us\"", "*.send", None,
          "the mail server refuses relaying, a quota is used up, or the sender address or login "
          "is wrong. Nobody was suppressed and the messages are still queued; fix it or wait, "
          "then clear the task."),
    Entry("needs_attention failed / messages \"in doubt\"", "needs_attention", None,
          "a sender died between the server's acceptance and recording it. Look the Message-ID "
          "up in the mail server log, then `journeyflow outbox --date D --id N --resolve sent` "
          "(or `--resolve resend`). The message of `needs_attention` lists each case with its "
          "command."),
    Entry("Warning \"below the minimum\" in `export_postal`", "*.export_postal",
          r"below the minimum",
          "the mailing went out with fewer pieces than `postal.min_pieces`; check the vendor's "
          "rate."),
    Entry("`win_back.export_postal` failed \"IN DOUBT\"/\"stopped while putting the .done "
          "marker\"", "*.export_postal", r"in doubt|\.done",
          "ask the print vendor whether they have the set, then `journeyflow postal --date D "
          "--campaign win_back --resolve delivered` (or `--resolve resend`). `journeyflow "
          "postal` lists every mailing."),
    Entry("`win_back.export_postal` failed delivering (drop or SFTP down)", "*.export_postal",
          None, "the mailing is built and recorded; clear the task later, or let the next "
          "night's export deliver it. The same bytes go out, once."),
)  # fmt: skip

FALLBACK = (
    "look at the failed task's log in the Airflow UI (its last lines name the cause). Every step "
    "is a transaction or idempotent: once the cause is fixed, clear the failed task."
)


def next_step(task_id: str, error: str) -> str:
    """The next step for a task that failed with ``error``."""
    for entry in ENTRIES:
        if entry.matches(task_id, error):
            return entry.next_step
    return FALLBACK


def markdown() -> str:
    """The triage list for the DAG's documentation."""
    lines = ["#### Triage for the person on call"]
    lines += [f"- **{e.title}**: {e.next_step}" for e in ENTRIES]
    lines += [
        "- Malformed source records never fail the run: they are in `journeyflow.quarantine` "
        "with a reason.",
        "- Re-running a date is always safe: staging is rebuilt, merges are upserts, watermarks "
        "only move forward after a committed merge.",
    ]
    return "\n".join(lines)
