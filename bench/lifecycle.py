"""Benchmark: facts + phases + reports for N contacts and 10·N events (default 1,000,000).

    uv run python bench/lifecycle.py
    uv run python bench/lifecycle.py --contacts 100000
    uv run python bench/lifecycle.py --decide      # then decide_campaigns on the same data

The warehouse is filled by SQL (generate_series) with a realistic mix; only score,
assign_phases and report are timed (and with --decide: the campaign decisions for every
contact, with the queued messages rendered into the outbox).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date

from scratch import scratch_warehouse

FILL = """
insert into journeyflow.contacts
    (contact_id, email, email_valid, street, house_number, postal_code, city, country,
     consent_status, consent_confirmed_at, postal_opt_out, created_at, updated_at,
     address_changed_at, first_run_date, changed_run_date)
select 'C' || lpad(g::text, 8, '0'), 'kunde' || g || '@example.de', g % 50 <> 0,
       'Hauptstraße', (g % 200)::text, lpad((g % 99999)::text, 5, '0'), 'Dresden', 'DE',
       (array['confirmed', 'pending', 'none'])[1 + g % 3],
       case when g % 3 = 0 then timestamptz '2026-11-20' - (g % 400) * interval '1 day' end,
       g % 40 = 0, timestamptz '2026-11-20' - (g % 800) * interval '1 day',
       timestamptz '2026-11-20' - (g % 800) * interval '1 day',
       timestamptz '2026-11-20' - (g % 800) * interval '1 day', date '2026-11-20',
       date '2026-11-20'
from generate_series(1, :n) g;
insert into journeyflow.events
    (event_id, contact_id, type, occurred_at, amount, currency, product, rating, channel,
     kind, run_date)
select 'E' || lpad(g::text, 9, '0'),
       'C' || lpad((1 + (g::bigint * 7919) % :n)::text, 8, '0'), t.type,
       timestamptz '2026-11-20' - ((g * 31) % 720) * interval '1 day',
       case when t.type = 'purchase' then 19.9 + g % 200 end,
       case when t.type = 'purchase' then 'EUR' end,
       case when t.type = 'purchase' then (array['Stativ', 'Kurs', 'Tasche'])[1 + g % 3] end,
       case when t.type = 'review' then 1 + g % 5 end,
       case when t.type = 'unsubscribe' then 'email' end,
       case when t.type = 'email_bounce' then 'hard' end, date '2026-11-20'
from generate_series(1, :n * 10) g
cross join lateral (select (array['page_view', 'page_view', 'email_open', 'email_click',
    'purchase', 'review', 'comment', 'newsletter_signup', 'referral', 'payment_overdue',
    'unsubscribe', 'email_bounce'])[1 + (g % 97) % 12] as type) t;
analyze journeyflow.contacts; analyze journeyflow.events
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--decide", action="store_true", help="also time decide_campaigns")
    args = parser.parse_args()

    with scratch_warehouse("jf-bench-phases-", FILL, args.contacts) as fill_seconds:
        from sqlalchemy import text

        from journeyflow import campaigns, lifecycle, warehouse

        print(f"warehouse: {args.contacts:,} contacts, {10 * args.contacts:,} events "
              f"({fill_seconds:.1f}s to fill, not timed)\n")  # fmt: skip
        total = 0.0
        steps = [lifecycle.score, lifecycle.assign_phases, lifecycle.report]
        for step in steps + ([campaigns.decide] if args.decide else []):
            t0 = time.perf_counter()
            result = step(date(2026, 11, 20))
            seconds = time.perf_counter() - t0
            total += seconds
            print(f"{result.step:<17}{seconds:>8.1f}s  {result.rows_out:>12,} rows")
            if result.step == "decide_campaigns":
                print(f"{'':<17}{'':>9}  {result.rows_in:>12,} decisions")
        print(f"{'total':<17}{total:>8.1f}s")
        with warehouse.transaction() as conn:
            counts = conn.execute(text("select phase, contacts from journeyflow.v_phase_counts"))
            for phase, n in counts:
                print(f"  {phase:<14}{n:>10,}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
