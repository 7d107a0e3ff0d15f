"""Live progress of a run: each step as it starts and ends, and inside the long ones (extract,
the quality gate, decide, send, postal) a counter with its rate and, where the total is known,
the time left.

The code that does the work reports to ``progress.bar(...)`` and ``progress.step_done(...)``;
what is shown depends on who listens. The CLI (``journeyflow run``, ``demo``) installs a
``TerminalReporter`` (on stderr, so that stdout stays what a command prints): rich progress bars
on a terminal, plain periodic lines when the output is
not one (CI, a log file). Elsewhere (Airflow workers) the default reporter writes the same plain
lines to the task log at INFO, at most every ``LOG_EVERY`` seconds.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

log = logging.getLogger(__name__)
LOG_EVERY = 10.0  # seconds between two plain lines of one bar


class Bar:
    """One counter: ``advance(n)``; a rate, and with a total the time left."""

    def __init__(self, reporter: Reporter, name: str, unit: str, total: int | None) -> None:
        self.reporter, self.name, self.unit, self.total = reporter, name, unit, total
        self.done = 0
        self.note = ""  # shown after the count, e.g. "12 pages"
        self.started = self._last = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
        self.reporter.advanced(self)

    def set_total(self, total: int) -> None:
        self.total = total
        self.reporter.advanced(self)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """``send.upsell: 1,200 of 5,000 messages, 410/s, 9 s left``."""
        of = f" of {self.total:,}" if self.total is not None else ""
        note = f" ({self.note})" if self.note else ""
        elapsed = time.monotonic() - self.started
        text = (f"{self.name}: {self.done:,}{of} {self.unit}{note}, {self.rate:,.0f}/s, "
                f"{elapsed:,.0f} s")  # fmt: skip
        if self.total and self.rate > 0 and self.done < self.total:
            text += f", {(self.total - self.done) / self.rate:,.0f} s left"
        return text


class Reporter:
    """Writes plain lines to the log: a step's end, and a bar at most every ``LOG_EVERY`` s."""

    def step_started(self, name: str) -> None:
        log.info("%s: started", name)

    def step_done(self, name: str, rows_in: int, rows_out: int, seconds: float) -> None:
        pass  # journeyflow.runlog.record_step logs the step's counts

    def bar_started(self, bar: Bar) -> None:
        pass

    def advanced(self, bar: Bar) -> None:
        now = time.monotonic()
        if now - bar._last >= LOG_EVERY:
            bar._last = now
            log.info("%s", bar.line())

    def bar_done(self, bar: Bar) -> None:
        pass

    def close(self) -> None:
        pass


class TerminalReporter(Reporter):
    """For a person at the terminal: rich bars on a tty, plain lines every few seconds on
    anything else. Start and end of each step are one line each."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.quiet = self.stream is None  # no stream at all (a daemon): nothing to show
        try:
            self.live = not self.quiet and self.stream.isatty()
        except (OSError, ValueError):
            self.live = False
        self._print_lock = threading.Lock()
        self._progress: Any = None
        self._tasks: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._open: dict[int, Bar] = {}  # plain mode: bars a ticker reports while they wait
        self._ticker: threading.Thread | None = None

    def _print(self, text: str) -> None:
        """One whole line, never interleaved with another thread's; a closed or broken stream
        ends the output, never the work."""
        if self.quiet:
            return
        with self._print_lock:
            try:
                if self._progress is not None:
                    self._progress.console.print(text, highlight=False, markup=False)
                else:
                    self.stream.write(text + "\n")
                    self.stream.flush()
            except (OSError, ValueError):
                self.quiet = True

    def step_started(self, name: str) -> None:
        self._print(f"  > {name}")

    def step_done(self, name: str, rows_in: int, rows_out: int, seconds: float) -> None:
        self._print(f"  ✓ {name}: {rows_in:,} in, {rows_out:,} out, {seconds:.1f} s")

    def bar_started(self, bar: Bar) -> None:
        if self.quiet:
            return
        if not self.live:  # a line every few seconds, also while nothing advances
            with self._lock:
                self._open[id(bar)] = bar
                if self._ticker is None:
                    self._ticker = threading.Thread(target=self._tick, daemon=True)
                    self._ticker.start()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with self._lock:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("    {task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=Console(file=self.stream), transient=True,
                )  # fmt: skip
                self._progress.start()
            self._tasks[id(bar)] = self._progress.add_task(
                f"{bar.name} ({bar.unit})", total=bar.total, rate=""
            )

    def advanced(self, bar: Bar) -> None:
        if self.quiet:
            return
        if self.live:
            task = self._tasks.get(id(bar))
            if task is not None:
                note = f" {bar.note}" if bar.note else ""
                self._progress.update(task, completed=bar.done, total=bar.total,
                                      rate=f"{bar.rate:,.0f}/s{note}")  # fmt: skip
            return
        with bar._lock:  # one line per interval, also with several threads advancing
            now = time.monotonic()
            due = now - bar._last >= self.every and id(bar) in self._open
            if due:
                bar._last = now
        if due:
            self._print(f"    {bar.line()}")

    def _tick(self) -> None:
        while True:
            time.sleep(min(1.0, self.every))
            with self._lock:
                bars = list(self._open.values())
                if not bars:
                    self._ticker = None
                    return
            for bar in bars:
                self.advanced(bar)

    def bar_done(self, bar: Bar) -> None:
        if not self.live:
            with self._lock, bar._lock:
                self._open.pop(id(bar), None)
            return
        with self._lock:
            task = self._tasks.pop(id(bar), None)
            if task is not None:
                self._progress.remove_task(task)
            if not self._tasks and self._progress is not None:
                self._progress.stop()
                self._progress = None

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


_reporter: Reporter = Reporter()


def install(reporter: Reporter) -> Reporter:
    """Make ``reporter`` the one this process reports to; returns the one before."""
    global _reporter
    before, _reporter = _reporter, reporter
    return before


def step_started(name: str) -> None:
    _reporter.step_started(name)


def step_done(name: str, rows_in: int, rows_out: int, seconds: float) -> None:
    _reporter.step_done(name, rows_in, rows_out, seconds)


@contextmanager
def bar(name: str, unit: str, total: int | None = None) -> Iterator[Bar]:
    """A counter for the duration of the ``with`` block."""
    b = Bar(_reporter, name, unit, total)
    _reporter.bar_started(b)
    try:
        yield b
    finally:
        _reporter.bar_done(b)
