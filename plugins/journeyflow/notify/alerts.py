"""Alerts: a night that needs a person tells the people in ``alerts.to`` (email) and the chat
webhook ``journeyflow_alerts``: what failed, why, and the next step (``journeyflow.triage``).

Sent for a task that failed for good (its failure callback; a stopping quality gate and
messages or mailings in doubt fail a task, so they are among them) and for a night that worked
but needs a look (a mailing below the vendor minimum). Never personal data: the error's first
line only, with addresses replaced (``journeyflow.email.transport.scrub``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from journeyflow import triage
from journeyflow.config import load_config
from journeyflow.email.transport import scrub

log = logging.getLogger(__name__)


@dataclass
class Alert:
    run_date: date
    headline: str  # one line: what happened
    why: str  # the error, or what needs a look
    next_step: str
    more: list[str]  # further lines that need a person (in doubt, ...)

    @property
    def subject(self) -> str:
        return f"journeyflow {self.run_date}: {self.headline}"

    def text(self) -> str:
        url = load_config().summary.cockpit_url
        lines = [self.subject, "", f"Why: {self.why}", "", f"Next step: {self.next_step}"]
        if self.more:
            lines += ["", "Also needs a person:", *[f"- {m}" for m in self.more]]
        if url:
            lines += ["", f"The run in the cockpit: {url}/runs?date={self.run_date}"]
        return "\n".join(lines) + "\n"


def for_failed_run(run_date: date, message: str | None) -> Alert:
    """The alert of a failed run from its record (``<task> failed: <error>``)."""
    from journeyflow.summary import attention

    try:
        more = attention()
    except Exception:  # the warehouse itself may be what failed
        more = []
    task, _, error = (message or "").partition(" failed: ")
    if not error and more:  # needs_attention failed the run: it records no step of its own
        task, error = "needs_attention", f"{len(more)} thing(s) left in doubt, listed below"
    elif not error:
        task, error = "the run", message or "failed (no step recorded an error)"
    error = _values_out(scrub(error.strip().splitlines()[0] if error.strip() else error))[:600]
    if task == "quality_gate_failed":
        headline = "the quality gate stopped the night; no campaign ran"
    elif task == "needs_attention":
        headline = "the night ran, but messages or mailings are in doubt"
    else:
        headline = f"the night failed at {task}"
    return Alert(run_date, headline, error, triage.next_step(task, error), more)


def step_warnings(steps: list[dict]) -> list[str]:
    """The warnings the steps of a run recorded (the postal export lists them; the quality
    gate's ``warnings`` is a count, shown from its findings instead)."""
    found = []
    for step in steps:
        listed = (step.get("details") or {}).get("warnings")
        if isinstance(listed, list):
            found += [str(w) for w in listed]
    return found


def _values_out(text: str) -> str:
    """A database error quotes the value it choked on ("Müller"): never in an alert."""
    return re.sub(r'"[^"]*"', '"<value>"', text)


SUMMARY_NOT_SENT = (
    "check `journeyflow_smtp` and `summary.to`; the summary of this date is not sent again "
    "(`journeyflow preview summary --date D` shows it), the next good night sends its own."
)


def for_warnings(run_date: date, warnings: list[str]) -> Alert:
    """The alert of a night that worked but has warnings a person should look at."""
    first = _values_out(scrub(warnings[0]))
    if "morning summary could not be sent" in first:
        step = SUMMARY_NOT_SENT
    else:
        postal = re.match(r"postal (\w+) ", first)
        task = f"{postal.group(1)}.export_postal" if postal else "the run"
        step = triage.next_step(task, first)
    return Alert(run_date, "the night worked, but needs a look", first, step,
                 [_values_out(scrub(w)) for w in warnings[1:]])  # fmt: skip


def send(alert: Alert) -> list[str]:
    """Deliver the alert to every configured channel; returns where it went. Never raises:
    a broken alert channel is logged, it does not hide the night's own failure."""
    from journeyflow.notify import mail, webhook

    went = []
    to = load_config().alerts.to
    if to:
        try:
            went.append(mail.deliver("alert", alert.run_date, to, alert.subject, alert.text()))
        except Exception as exc:
            log.error("the alert email could not be sent: %s", scrub(str(exc)))
    try:
        posted = webhook.post(alert.text())
        if posted:
            went.append(posted)
    except Exception as exc:
        log.error("the alert could not be posted to %s: %s", webhook.WEBHOOK_CONN_ID,
                  scrub(str(exc)))  # fmt: skip
    if went:
        log.info("alert for %s (%s) sent to %s", alert.run_date, alert.headline, "; ".join(went))
    else:
        log.warning("alert for %s (%s): no channel configured (alerts.to, connection %s)",
                    alert.run_date, alert.headline, "journeyflow_alerts")  # fmt: skip
    return went


def failed_run(run_date: date) -> list[str]:
    """Alert about the failed run of D (its record names the step and the error)."""
    from journeyflow.runlog import run_record

    try:
        record = run_record(run_date) or {}
    except Exception as exc:  # the warehouse itself may be what failed: still tell people
        record = {"message": f"the run failed: the warehouse could not be read ({exc})"}
    return send(for_failed_run(run_date, record.get("message")))
