"""Benchmark: every cockpit page on a warehouse of N contacts (default 1,000,000).

    uv run python bench/cockpit.py
    uv run python bench/cockpit.py --contacts 200000 --events-per-contact 5

The warehouse is filled by SQL (contacts, events, decisions of two run dates, an outbox, a
quality gate, quarantine, postal mailings, 90 days of phase counts), then the real ``score``,
``assign_phases`` and ``report`` steps run for D-1 and D. Each page is fetched through the
cockpit app (HTML and its JSON twin) five times; the median is printed beside the one-second
target, and beside the floor: a primary-key lookup round trip on the same warehouse. The contact
page is also timed without the ``events_contact`` index, to show what the index buys.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from scratch import scratch_warehouse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

D = date(2026, 11, 20)
FILL = """
insert into journeyflow.contacts
    (contact_id, email, email_valid, salutation, first_name, last_name, language, street,
     house_number, postal_code, city, country, consent_status, consent_confirmed_at,
     postal_opt_out, created_at, updated_at, address_changed_at, first_run_date,
     changed_run_date)
select 'C' || lpad(g::text, 8, '0'), 'kunde' || g || '@example.de', g % 20 <> 0,
       (array['Frau', 'Herr', null])[1 + g % 3], (array['Jörg', 'Anna', 'Zoë', 'Jonas'])[1 + g % 4],
       (array['Müller', 'Weiß', 'Öztürk', 'Schmidt'])[1 + g % 4], (array['de', 'en'])[1 + g % 2],
       'Hauptstraße', (g % 200)::text, lpad((1067 + g % 90000)::text, 5, '0'), 'Dresden', 'DE',
       (array['confirmed', 'confirmed', 'pending', 'none'])[1 + g % 4],
       timestamptz '2024-01-01' + (g % 1000) * interval '1 day', false,
       timestamptz '2023-06-01' + (g % 1200) * interval '1 day', timestamptz '2026-10-01',
       timestamptz '2026-10-01', date '2026-11-19', date '2026-11-19'
from generate_series(1, :n) g;
insert into journeyflow.events
    (event_id, contact_id, type, occurred_at, properties, amount, currency, product, rating,
     run_date)
select 'E' || g, 'C' || lpad((1 + (g::bigint * 7919) % :n)::text, 8, '0'),
       (array['page_view', 'page_view', 'page_view', 'email_open', 'email_click', 'purchase',
              'review'])[1 + g % 7],
       timestamptz '2024-11-20' + (g % 730) * interval '1 day' + (g % 86400) * interval '1 s',
       '{}', case when g % 7 = 5 then 20 + g % 200 end, case when g % 7 = 5 then 'EUR' end,
       case when g % 7 = 5 then (array['Lampe', 'Leuchte', 'Kabel'])[1 + g % 3] end,
       case when g % 7 = 6 then 1 + g % 5 end, date '2026-11-19'
from generate_series(1, :n * :per) g;
alter table journeyflow.events drop constraint events_pkey;
alter table journeyflow.events add primary key (event_id);
reindex index journeyflow.events_contact;
analyze journeyflow.contacts;
analyze journeyflow.events
"""
# decisions of a run date, an outbox for the queued ones, quality gate, quarantine, mailings, runs
RUN = """
insert into journeyflow.campaign_decisions
    (run_date, contact_id, campaign, step, channel, decision, reason, occurrence)
select :d, 'C' || lpad(g::text, 8, '0'),
       (array['welcome_drip', 'tripwire_offer', 'onboarding_tips', 'upsell', 'testimonial_request',
              'win_back'])[1 + g % 6], 1, case when g % 6 = 5 and g % 4 = 0 then 'postal'
       else 'email' end,
       (array['queued', 'held', 'excluded', 'excluded'])[1 + g % 4],
       (array['due: step 1', 'repeat window: last sent 2026-08-01', 'no email consent (none)',
              'bad payer (payment overdue in the last 365 days)'])[1 + g % 4],
       case when g % 4 = 0 then 1 end
from generate_series(1, :n * 7 / 10) g;
insert into journeyflow.outbox
    (contact_id, campaign, step, occurrence, channel, run_date, status, message_id, recipient,
     sent_at)
select contact_id, campaign, step, occurrence, channel, run_date,
       case when channel = 'postal' then 'exported' when hashtext(contact_id) % 100 = 0
            then 'bounced' else 'sent' end,
       '<' || contact_id || '.' || :d || '@journeyflow>', lower(contact_id) || '@example.de', now()
from journeyflow.campaign_decisions
where run_date = :d and decision = 'queued'
on conflict do nothing;
insert into journeyflow.validation_results
    (run_date, check_name, table_name, expectation, severity, verdict, element_count,
     unexpected_count, description)
select :d, 'check_' || g, 'contacts', 'expect_column_values_to_not_be_null',
       case when g < 12 then 'critical' else 'warning' end,
       case when g = 15 then 'warning' else 'passed' end, :n, case when g = 15 then 57 else 0 end,
       'check number ' || g
from generate_series(1, 19) g;
insert into journeyflow.quarantine (stream, record_id, reason, raw, raw_hash, first_run_date)
select (array['contacts', 'events'])[1 + g % 2], 'Q' || g,
       (array['unknown contact_id', 'occurred_at: unparseable timestamp'])[1 + g % 2], '{}',
       md5(g || '-' || :d), :d
from generate_series(1, 500) g;
insert into journeyflow.postal_exports (run_date, campaign, run_id, file_name, rows, sha256,
                                        delivered_at, csv)
values (:d, 'win_back', 'bench', 'win_back/' || :d || '/mailing_win_back_' || :d || '.csv', 3,
        'x', now(), convert_to('Kundennummer' || chr(59) || 'Anrede' || chr(10), 'UTF8'));
insert into journeyflow.pipeline_runs (run_date, run_id, status, attempts, started_at,
                                       finished_at)
values (:d, 'scheduled__' || :d, 'success', 1, now(), now())
"""
HISTORY = """
insert into journeyflow.phase_counts (run_date, phase, priority, contacts)
select d::date, p.phase, p.priority, (:n / 9) + (extract(doy from d)::int * p.priority) % 5000
from generate_series(cast(:d as date) - 90, cast(:d as date) - 2, interval '1 day') d,
     (select distinct phase, priority from journeyflow.phase_counts) p
"""


def median_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events-per-contact", type=int, default=10)
    args = parser.parse_args()
    fill = FILL.replace(":per", str(args.events_per_contact))
    with scratch_warehouse("jf-bench-cockpit-", fill, args.contacts) as filled:
        from fastapi.testclient import TestClient
        from sqlalchemy import text

        from journeyflow import warehouse
        from journeyflow.cockpit.app import create_app
        from journeyflow.cockpit.auth import Viewer, viewer
        from journeyflow.lifecycle.facts import score
        from journeyflow.lifecycle.phases import assign_phases
        from journeyflow.lifecycle.reports import report
        from journeyflow.sqlfile import statement as sql

        started = time.perf_counter()
        for day in (D - timedelta(days=1), D):
            with warehouse.transaction() as conn:
                for statement in RUN.split(";"):
                    conn.execute(text(statement), {"n": args.contacts, "d": day})
                conn.execute(sql("decisions/keep_counts"), {"d": day})  # as decide does
            score(day)
            assign_phases(day)
            report(day)
        with warehouse.transaction() as conn:
            conn.execute(text(HISTORY), {"n": args.contacts, "d": D})
            conn.exec_driver_sql("analyze")
            sizes = conn.exec_driver_sql(
                "select (select count(*) from journeyflow.contacts), (select count(*) from "
                "journeyflow.events), (select count(*) from journeyflow.campaign_decisions), "
                "(select count(*) from journeyflow.outbox)"
            ).one()
        print(f"warehouse: {sizes[0]:,} contacts, {sizes[1]:,} events, {sizes[2]:,} decisions, "
              f"{sizes[3]:,} outbox rows (filled in {filled:.0f} s + "
              f"{time.perf_counter() - started:.0f} s)")  # fmt: skip

        with warehouse.transaction() as conn:  # what the contact page's index costs to build
            conn.exec_driver_sql("drop index journeyflow.events_contact")
            conn.exec_driver_sql("alter table journeyflow.events drop constraint events_pkey")
            t0 = time.perf_counter()
            conn.exec_driver_sql("alter table journeyflow.events add primary key (event_id)")
            t1 = time.perf_counter()
            conn.exec_driver_sql("create index events_contact on journeyflow.events (contact_id)")
            t2 = time.perf_counter()
        print(f"building events_contact on {sizes[1]:,} events: {t2 - t1:.1f} s "
              f"(the primary key: {t1 - t0:.1f} s)")  # fmt: skip
        app = create_app()
        app.dependency_overrides[viewer] = lambda: Viewer("bench", editor=True)
        client = TestClient(app, root_path="/journeyflow")
        someone = "C" + str(args.contacts // 2).zfill(8)

        def fetch(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])

        lookup = f"select * from journeyflow.contacts where contact_id = '{someone}'"
        with warehouse.transaction() as conn:
            floor = median_ms(lambda: conn.exec_driver_sql(lookup).all())
        pages = [
            ("Funnel", "/funnel", "/api/funnel"),
            ("Campaigns", "/campaigns", "/api/campaigns"),
            ("Data quality", "/quality", "/api/quality"),
            ("Postal", "/postal", "/api/postal"),
            ("Contact", f"/contacts/{someone}", f"/api/contacts/{someone}"),
            ("Contact search", "/contacts?q=C0000100", "/api/contacts?q=C0000100"),
            ("Reports", "/reports", "/api/reports"),
            ("Run summary", "/runs", "/api/runs"),
        ]
        print(f"\n{'page':<16}{'HTML ms':>10}{'JSON ms':>10}{'target ms':>11}"
              f"{'floor ms':>10}  (floor: one primary-key lookup)")  # fmt: skip
        for name, html, twin in pages:
            fetch(html)  # warm the caches once, as a page seen before
            print(f"{name:<16}{median_ms(lambda: fetch(html)):>10.0f}"  # noqa: B023
                  f"{median_ms(lambda: fetch(twin)):>10.0f}{1000:>11}{floor:>10.1f}")  # noqa: B023  # fmt: skip
        with warehouse.transaction() as conn:
            conn.exec_driver_sql("drop index journeyflow.events_contact")
        fetch(f"/api/contacts/{someone}")
        print(f"\ncontact page without the events_contact index: "
              f"{median_ms(lambda: fetch(f'/api/contacts/{someone}')):.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
