"""Live progress: plain lines when the output is not a terminal (CI, logs), rich bars on one, the
start and end of each step; and the send step reports what it sent of its total."""

from __future__ import annotations

import io
import threading

from journeyflow import progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_name_the_count_the_total_the_rate_and_the_time_left():
    out = io.StringIO()
    before = progress.install(progress.TerminalReporter(out, every=0.0))
    try:
        progress.step_started("send.upsell")
        with progress.bar("send.upsell", "messages", total=400) as bar:
            for _ in range(4):
                bar.advance(100)
        progress.step_done("send.upsell", 400, 400, 1.25)
    finally:
        progress.install(before).close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "  > send.upsell"
    assert lines[1].startswith("    send.upsell: 100 of 400 messages, ") and "s left" in lines[1]
    assert lines[-2].startswith("    send.upsell: 400 of 400 messages, ")
    assert lines[-1] == "  ✓ send.upsell: 400 in, 400 out, 1.2 s"


def test_a_bar_that_does_not_move_still_says_it_is_alive():
    """The quality gate counts its checks only when Great Expectations returns: the ticker
    writes a line while it waits. Waits for the line, not for a fixed time."""
    out = io.StringIO()
    reporter = progress.TerminalReporter(out, every=0.05)
    before = progress.install(reporter)
    seen = threading.Event()
    try:
        with progress.bar("quality_gate", "checks", total=19) as bar:
            bar.note = "Great Expectations, in the warehouse"
            for _ in range(400):
                if "quality_gate: 0 of 19 checks" in out.getvalue():
                    seen.set()
                    break
                seen.wait(0.05)
    finally:
        progress.install(before).close()
    assert seen.is_set(), out.getvalue()
    assert "(Great Expectations, in the warehouse)" in out.getvalue()


def test_on_a_terminal_the_bars_are_rich_and_go_away_when_done():
    out = Tty()
    before = progress.install(progress.TerminalReporter(out))
    try:
        with progress.bar("extract_events", "records") as bar:
            bar.advance(5000)
        progress.step_done("extract_events", 5000, 4990, 2.0)
    finally:
        progress.install(before).close()
    assert "✓ extract_events: 5,000 in, 4,990 out, 2.0 s" in out.getvalue()


def test_without_a_listener_the_progress_goes_to_the_task_log(caplog):
    caplog.set_level("INFO", logger="journeyflow.progress")
    reporter = progress.Reporter()
    before = progress.install(reporter)
    try:
        progress.step_started("merge")
        with progress.bar("render", "messages", total=10) as bar:
            bar._last -= progress.LOG_EVERY  # as if the last line were ten seconds old
            bar.advance(5)
    finally:
        progress.install(before)
    assert "merge: started" in caplog.text and "render: 5 of 10 messages" in caplog.text


def test_a_closed_or_broken_output_ends_the_output_never_the_work():
    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    for stream in (Broken(), None):
        reporter = progress.TerminalReporter(stream, every=0.0)
        if stream is None:
            reporter.stream, reporter.quiet = None, True
        before = progress.install(reporter)
        try:
            progress.step_started("send.upsell")
            with progress.bar("send.upsell", "messages", total=3) as bar:
                bar.advance(3)
            progress.step_done("send.upsell", 3, 3, 0.1)
        finally:
            progress.install(before).close()
