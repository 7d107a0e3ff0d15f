"""Benchmark: decide + render + send N campaign emails (default 100,000) to a local SMTP sink,
beside a plain smtplib loop sending the same pre-rendered messages to the same sink.

    uv run python bench/campaigns.py
    uv run python bench/campaigns.py --contacts 20000

The warehouse is filled by SQL: N subscribers who confirmed 20 days ago and never ordered (phase
conversion, so each gets tripwire_offer step 1). The sink is aiosmtpd in its own process; it only
counts. Timed for journeyflow: decide_campaigns (decisions + rendering into the outbox, one
transaction) and the sender (claim, mark, SMTP, mark), then a rerun of decide (not in the
ratio). Timed for the plain loop: one SMTP connection and ``sendmail`` per message, nothing else.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import smtplib
import time
from datetime import date

from scratch import free_port, scratch_warehouse

D = date(2026, 11, 20)
FILL = """
insert into journeyflow.contacts
    (contact_id, email, email_valid, salutation, first_name, last_name, language, street,
     house_number, postal_code, city, country, consent_status, consent_confirmed_at,
     postal_opt_out, created_at, updated_at, address_changed_at, first_run_date,
     changed_run_date)
select 'C' || lpad(g::text, 8, '0'), 'kunde' || g || '@example.de', true,
       (array['Frau', 'Herr', null])[1 + g % 3], (array['Jörg', 'Anna', 'Zoë', 'Jonas'])[1 + g % 4],
       (array['Müller', 'Weiß', 'Öztürk', 'Schmidt'])[1 + g % 4], (array['de', 'en'])[1 + g % 2],
       'Hauptstraße', (g % 200)::text, '01067', 'Dresden', 'DE', 'confirmed',
       timestamptz '2026-10-31 12:00+01', false, timestamptz '2026-10-01',
       timestamptz '2026-10-01', timestamptz '2026-10-01', date '2026-11-20', date '2026-11-20'
from generate_series(1, :n) g;
analyze journeyflow.contacts
"""


def sink(port: int, ready: multiprocessing.Event) -> None:
    """An SMTP server that accepts and counts (a separate process, like a real relay)."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # not a line per SMTP command

    class Count:
        n = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Count.n += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def start_sink(ctx=multiprocessing) -> tuple[multiprocessing.Process, int]:
    """The counting SMTP sink in its own process, set as the journeyflow_smtp connection."""
    port = free_port()
    ready = ctx.Event()
    server = ctx.Process(target=sink, args=(port, ready), daemon=True)
    server.start()
    ready.wait(60)
    os.environ["AIRFLOW_CONN_JOURNEYFLOW_SMTP"] = json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True},
    })  # fmt: skip
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    server, port = start_sink()

    with scratch_warehouse("jf-bench-campaigns-", FILL, args.contacts) as fill_seconds:
        from sqlalchemy import text

        from journeyflow import campaigns, lifecycle, warehouse
        from journeyflow.email import sender
        from journeyflow.local import airflow_home as airflow_env

        airflow_env.configure()
        lifecycle.score(D)
        lifecycle.assign_phases(D)
        print(f"warehouse: {args.contacts:,} subscribers in phase conversion "
              f"({fill_seconds:.1f}s to fill, not timed)\n")  # fmt: skip

        t0 = time.perf_counter()
        decided = campaigns.decide(D)
        t1 = time.perf_counter()
        result = sender.send("tripwire_offer", D)
        t2 = time.perf_counter()
        ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sent = result.sent
        with warehouse.transaction() as conn:  # all but the holdout (the control group)
            due = conn.exec_driver_sql(
                "select count(*) from journeyflow.outbox where status <> 'held_out'"
            ).scalar()
        assert sent == due, (result.as_dict(), due)
        print(f"journeyflow  decide+render {t1 - t0:7.1f}s  ({decided.rows_out:,} queued)")
        print(f"             send          {t2 - t1:7.1f}s  ({sent:,} sent)")
        ours = sent / (t2 - t0)
        print(f"             total         {t2 - t0:7.1f}s  {ours:8,.0f} messages/s")
        t_rerun = time.perf_counter()
        again = campaigns.decide(D)  # a rerun of D: every message was handed out already
        print(f"             rerun of decide {time.perf_counter() - t_rerun:5.1f}s  "
              f"({again.rows_out:,} queued again)")  # fmt: skip

        with warehouse.transaction() as conn:
            rows = conn.execute(
                text(
                    "select recipient, message from journeyflow.outbox "
                    "where message is not null order by outbox_id"
                )
            ).all()
        messages = [(rcpt, body.encode("ascii")) for rcpt, body in rows]
        del rows
        t3 = time.perf_counter()
        smtp = smtplib.SMTP("127.0.0.1", port)
        for rcpt, body in messages:
            smtp.sendmail("news@lichtblick.example", [rcpt], body)
        smtp.quit()
        plain_seconds = time.perf_counter() - t3
        plain = len(messages) / plain_seconds
        print(f"plain loop   send          {plain_seconds:7.1f}s  {plain:8,.0f} messages/s "
              "(pre-rendered, no database)")  # fmt: skip
        print(f"\nratio journeyflow / plain loop: {ours / plain:.2f}x (target >= 0.70x)")
        print(f"peak RSS of the journeyflow part: {ours_rss:,.0f} MB")
    server.terminate()


if __name__ == "__main__":
    main()
