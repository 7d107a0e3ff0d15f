"""Benchmark: one process rendering N campaign emails (default 20,000), Jinja alone beside the
whole outbox row (the MIME message, its headers, the COPY row).

    uv run python bench/rendering.py
    uv run python bench/rendering.py --contacts 5000 --profile   # and where the time goes

The recipients are made up (German and English, names with umlauts, four campaigns); no database.
Times are CPU seconds of this process, so a busy machine changes them little. Decide renders in
worker processes, each doing what the third line does.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import tempfile
import time
from datetime import UTC, date, datetime

D = date(2026, 11, 20)
CAMPAIGNS = (("welcome_drip", 1), ("welcome_drip", 2), ("onboarding_tips", 1), ("upsell", 1),
             ("tripwire_offer", 1))  # fmt: skip
NAMES = (("Frau", "Jördis", "Nüßle"), ("Herr", "Jonas", "Weiß"), ("Frau", "Anna", "Schmidt"),
         (None, "Zoë", "Ørsted"), ("Herr", "Lukas", "Becker"))  # fmt: skip


def recipients(n: int) -> list[tuple]:
    """Rows as enqueue reads ``outbox/recipients.sql``: campaign, step, occurrence, variant, then
    the ``Recipient`` fields."""
    rng = random.Random(7)
    now = datetime(2026, 11, 19, 18, tzinfo=UTC)
    rows = []
    for i in range(n):
        campaign, step = rng.choice(CAMPAIGNS)
        salutation, first, last = rng.choice(NAMES)
        rows.append((campaign, step, 1, "main", f"c{i:08d}", f"p{i}@example.com",
                     rng.choice(("de", "de", "en")), salutation, None, first, last, "Köln",
                     rng.randint(0, 3), "Teekanne", "Teesieb", now, now))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the outbox rows")
    args = parser.parse_args()
    os.environ.update(JOURNEYFLOW_HOME=tempfile.mkdtemp(prefix="jf-bench-render-"),
                      JOURNEYFLOW_MODE="local")  # fmt: skip

    from journeyflow.email.render import Recipient, Renderer
    from journeyflow.email.rows import render_rows
    from journeyflow.unsubscribe.keys import parse_keys

    keys = parse_keys("bench:" + "s" * 32, "bench")
    renderer = Renderer(keys=keys, unsubscribe_base="https://shop.example/journeyflow/u/")
    renderer.with_sender("Lichtblick <news@lichtblick.example>")
    rows = recipients(args.contacts)
    now = datetime(2026, 11, 20, 2, tzinfo=UTC)

    def jinja() -> None:
        for campaign, step, _, variant, *contact in rows:
            renderer.render(Recipient(*contact), campaign, step, D, variant)

    def messages() -> None:
        for campaign, step, occurrence, variant, *contact in rows:
            renderer.message(Recipient(*contact), campaign, step, occurrence, D, now, variant)

    def outbox_rows() -> None:
        for i in range(0, len(rows), 500):
            render_rows(renderer, (D, now, rows[i : i + 500]))

    jinja()  # templates compiled, caches warm: every line below measures the steady state
    print(f"rendering {len(rows):,} emails in one process (CPU seconds)")
    floor = 0.0
    for label, work in (("Jinja alone (subject, text, HTML)", jinja),
                        ("the message (MIME, headers)", messages),
                        ("the outbox row (message + COPY row)", outbox_rows)):  # fmt: skip
        started = time.process_time()
        work()
        seconds = time.process_time() - started
        floor = floor or seconds
        print(f"  {label:<40}{seconds:>7.2f}s {len(rows) / seconds:>8,.0f}/s"
              f"  {seconds / floor:.2f}x")  # fmt: skip
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(outbox_rows)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
