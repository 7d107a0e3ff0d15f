"""Benchmark: the quality gate on N staged contacts and 10·N staged events.

    uv run python bench/quality_gate.py                      # 1,000,000 contacts, 10M events
    uv run python bench/quality_gate.py --contacts 100000

Staging is filled by SQL (generate_series) with realistic shapes and a sprinkle of defects;
only the gate (Great Expectations, pushed down to SQL) is timed.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date

from scratch import scratch_warehouse

FILL = """
truncate journeyflow_staging.contacts, journeyflow_staging.events;
insert into journeyflow_staging.contacts
    (contact_id, email, salutation, first_name, last_name, street, house_number, postal_code,
     city, country, language, consent_status, consent_confirmed_at, postal_opt_out,
     created_at, updated_at)
select 'C' || lpad(g::text, 8, '0'),
       case when g % 1000 = 0 then 'kaputt at example.de' else 'kunde' || g || '@example.de' end,
       'Frau', 'Käthe', 'Müller', 'Hauptstraße', (g % 200)::text,
       case when g % 10 < 8 then lpad((g % 99999)::text, 5, '0')
            else lpad((g % 9999)::text, 4, '0') end,
       'Dresden', case when g % 10 < 8 then 'DE' when g % 10 = 8 then 'AT' else 'CH' end, 'de',
       (array['confirmed', 'pending', 'none', 'revoked'])[1 + g % 4],
       case when g % 4 = 0 then timestamptz '2026-01-01' + (g % 300) * interval '1 day' end,
       false, timestamptz '2025-01-01' + (g % 600) * interval '1 day',
       timestamptz '2025-06-01' + (g % 500) * interval '1 day'
from generate_series(1, :n) g;
insert into journeyflow_staging.events (event_id, contact_id, type, occurred_at, properties)
select 'E' || lpad(g::text, 9, '0'), 'C' || lpad((1 + g % :n)::text, 8, '0'),
       (array['page_view', 'email_open', 'email_click', 'purchase', 'review',
              'comment'])[1 + g % 6],
       timestamptz '2026-11-20' - (g % 700) * interval '1 day',
       case g % 6 when 3 then '{"amount": 19.9, "currency": "EUR", "product": "Stativ"}'::jsonb
                  when 4 then jsonb_build_object('rating', 1 + g % 5) else '{}'::jsonb end
from generate_series(1, :n * 10) g;
analyze journeyflow_staging.contacts; analyze journeyflow_staging.events;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()

    with scratch_warehouse("jf-bench-gate-", FILL, args.contacts) as fill_seconds:
        from journeyflow.quality import gate

        print(f"staged {args.contacts:,} contacts and {10 * args.contacts:,} events "
              f"in {fill_seconds:.1f}s (not part of the figure)")  # fmt: skip
        import great_expectations  # noqa: F401  (import time is not the gate's work)

        started = time.perf_counter()
        verdict = gate.validate(date(2026, 11, 20))
        seconds = time.perf_counter() - started
        print(f"\nquality gate: {seconds:.1f}s for {len(verdict.findings)} checks "
              f"({11 * args.contacts / seconds:,.0f} staged rows/s)")  # fmt: skip
        print(verdict.message())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
