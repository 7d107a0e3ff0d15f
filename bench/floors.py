"""The floors of bench/nightly.py, measured on the warehouse a night left: COPY of the same rows,
one aggregate with the same decay over the same events, the rulebook in one pass over the facts,
Jinja rendering the same messages (as many processes as decide), a plain smtplib loop (on a
sample, scaled). Beside two floors, the parts their step cannot do without, each measured alone
(``parts``): what the floor leaves out, so that a ratio far above its target shows why."""

from __future__ import annotations

import multiprocessing
import smtplib
import tempfile
import time
from datetime import date, datetime
from typing import Any


def floors(d: date, smtp_port: int) -> dict[str, tuple[float, int]]:
    """(seconds, rows) of each floor for the night of D, on the warehouse as the night left it."""
    from sqlalchemy import text

    from journeyflow import warehouse
    from journeyflow.config import load_config
    from journeyflow.lifecycle.phases import assignment, load_phases, order
    from journeyflow.sqlfile import statement

    params = load_config().rule_params(d)
    out: dict[str, tuple[float, int]] = {}
    raw = warehouse.engine().raw_connection()
    try:
        cur = raw.cursor()
        copied, seconds = 0, 0.0
        for table, where in (("contacts", "changed_run_date = %(d)s"),
                             ("events", "run_date = %(d)s"),
                             ("anonymous_events", "run_date = %(d)s")):  # fmt: skip
            sql = cur.mogrify(f"select * from journeyflow.{table} where {where}", {"d": d})
            # the rows in COPY's text format, on disk: 23 M anonymous events (2 M contacts) held
            # as a Python string took 12 GB, and the OOM killer took the process
            with tempfile.TemporaryFile() as rows:
                cur.copy_expert(f"copy ({sql.decode()}) to stdout", rows)
                rows.seek(0)
                cur.execute(f"create temp table floor_{table} (like journeyflow.{table})")
                t0 = time.perf_counter()
                cur.copy_expert(f"copy floor_{table} from stdin", rows, size=1 << 26)
                seconds += time.perf_counter() - t0
            cur.execute(f"select count(*) from floor_{table}")
            copied += cur.fetchone()[0]
        out["ingest"] = (seconds, copied)
        raw.rollback()
    finally:
        raw.close()

    with warehouse.transaction() as conn:
        conn.exec_driver_sql("set local work_mem = '256MB'")
        t0 = time.perf_counter()
        n = conn.execute(text(AGGREGATE), params).rowcount
        out["score"] = (time.perf_counter() - t0, n)
        conn.execute(statement("lifecycle/facts_view"))
        rules = load_phases()
        one_pass = f"create temp table floor_phases as {assignment(rules)}"
        t0 = time.perf_counter()
        n = conn.execute(text(one_pass), {**params, **order(rules)}).rowcount
        out["assign_phases"] = (time.perf_counter() - t0, n)
        conn.rollback()
    out["decide_campaigns"] = _render_floor(d)
    out["send"] = smtp_floor(d, smtp_port)
    return out


PARTS = {  # task -> what it cannot do without, each part measured alone (see ``parts``)
    "assign_phases": ("the same pass with each contact's open stay joined (who moved)",),
    "decide_campaigns": (
        "the same messages as outbox rows (MIME, COPY rows), as many processes, no database",
        "the decisions for every candidate in SQL, nothing kept",
    ),
}


def parts(d: date) -> dict[str, list[tuple[float, int]]]:
    """(seconds, rows) of each part of ``PARTS``, in its order, on the warehouse as the night of
    D left it, nothing kept: the phases compared with the open stays (the step's first
    statement; D's stays are open by now, so nobody moves; on a delta night the join is the
    step's, on the initial night the step had no stays to join), and for the decisions the
    messages D queued rendered into outbox rows, and the decisions made again
    (``journeyflow.campaigns.decide.plan``; D's own messages are then handed out, as on a rerun
    of D)."""
    from sqlalchemy import text

    from journeyflow import warehouse
    from journeyflow.campaigns.decide import plan
    from journeyflow.config import load_config
    from journeyflow.lifecycle.phases import load_phases, order, with_open_stays
    from journeyflow.sqlfile import statement

    params = load_config().rule_params(d)
    with warehouse.transaction() as conn:
        conn.exec_driver_sql("set local work_mem = '256MB'")
        conn.execute(statement("lifecycle/facts_view"))
        rules = load_phases()
        joined = f"create temp table floor_moves as {with_open_stays(rules)}"
        t0 = time.perf_counter()
        n = conn.execute(text(joined), {**params, **order(rules)}).rowcount
        compared = (time.perf_counter() - t0, n)
        conn.rollback()
    rows = _render_floor(d, whole=True)
    t0 = time.perf_counter()
    decided = plan(d)
    seconds = time.perf_counter() - t0
    candidates = sum(sum(c.values()) for c in decided.counts.values())
    return {"assign_phases": [compared], "decide_campaigns": [rows, (seconds, candidates)]}


AGGREGATE = """
create temp table floor_score as
select contact_id, count(*) as events, sum(p.points * power(cast(0.5 as float8),
           (date_part('epoch', cast(:cutoff as timestamptz)) - date_part('epoch', occurred_at))
           / (86400.0 * :score_half_life_days))) filter (where occurred_at >= w.since) as score
from (
    select contact_id, type, occurred_at from journeyflow.events where occurred_at < :cutoff
    union all
    select i.contact_id, a.type, a.occurred_at
    from journeyflow.identities i join journeyflow.anonymous_events a using (anonymous_id)
    where i.identified_at < :cutoff and a.occurred_at < :cutoff
) e
cross join (select :cutoff - make_interval(days => :score_window_days) as since) w
left join (
    select key as type, value::float8 as points
    from jsonb_each_text(cast(:score_points as jsonb))
) p using (type)
group by contact_id
"""


def _messages(d: date) -> list[tuple]:
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        return conn.exec_driver_sql(
            """
            select o.campaign, o.step, o.occurrence, o.variant, c.contact_id, c.email, c.language,
                   c.salutation, c.title, c.first_name, c.last_name, c.city,
                   coalesce(f.order_count, 0), f.first_product, f.last_product,
                   f.first_order_at, f.last_order_at
            from journeyflow.outbox o
            join journeyflow.contacts c using (contact_id)
            left join journeyflow.contact_facts f using (contact_id)
            where o.run_date = %(d)s and o.channel = 'email' and o.message is not null
            """,
            {"d": d},
        ).all()


def _render_floor(d: date, whole: bool = False) -> tuple[float, int]:
    """Jinja alone (subject, text and HTML, no MIME, no database) for the emails D put into the
    outbox, in as many processes as decide renders with (their start included), or in this one
    below ``PARALLEL_FROM`` as decide does; ``whole``: the whole outbox rows instead, as decide's
    workers make them (the MIME message, the row in COPY's format), written nowhere."""
    from journeyflow.config import load_config
    from journeyflow.email.enqueue import PARALLEL_FROM, RENDER_CHUNK
    from journeyflow.email.render import Renderer
    from journeyflow.email.rows import (
        init_worker,
        render_in_worker,
        render_rows,
        worker_args,
        worker_count,
    )
    from journeyflow.email.transport import sender_address

    rows = _messages(d)
    renderer = Renderer().with_sender(sender_address())
    now = datetime.now(load_config().tz)
    chunks = [(d, now, rows[i : i + RENDER_CHUNK]) for i in range(0, len(rows), RENDER_CHUNK)]
    # a chunk's rendering, as (rows, outbox rows in COPY's format) or as rows
    render = render_rows if whole else _jinja_only
    t0 = time.perf_counter()
    if len(rows) < PARALLEL_FROM:
        for chunk in chunks:
            render(renderer, chunk)
        return time.perf_counter() - t0, len(rows)
    ctx, init = multiprocessing.get_context("spawn"), worker_args(renderer)
    t0 = time.perf_counter()
    with ctx.Pool(worker_count(), init_worker, init) as pool:
        if whole:  # the blocks come back as decide's do, pickled
            rendered = sum(n for n, _ in pool.imap_unordered(render_in_worker, chunks))
        else:
            rendered = sum(pool.imap_unordered(_jinja_in_worker, chunks))
    return time.perf_counter() - t0, rendered


def _jinja_only(renderer: Any, chunk: tuple[date, datetime, list[tuple]]) -> int:
    """Subject, text and HTML of a chunk's messages; returns the rows."""
    from journeyflow.email.render import Recipient

    d, _, rows = chunk
    for campaign, step, _, variant, *contact in rows:
        renderer.render(Recipient(*contact), campaign, step, d, variant)
    return len(rows)


def _jinja_in_worker(chunk: tuple[date, datetime, list[tuple]]) -> int:
    from journeyflow.email.rows import worker_renderer

    return _jinja_only(worker_renderer(), chunk)


def smtp_floor(d: date, port: int, sample: int = 20_000) -> tuple[float, int]:
    """The plain smtplib loop on (a sample of) the emails D sent, scaled to all of them."""
    from journeyflow import warehouse

    with warehouse.transaction() as conn:
        rows = conn.exec_driver_sql(
            "select recipient, message, count(*) over () from journeyflow.outbox "
            "where run_date = %(d)s and channel = 'email' and status = 'sent' limit %(n)s",
            {"d": d, "n": sample},
        ).all()
    if not rows:
        return 0.0, 0
    sent = rows[0][2]  # all of D's sent emails, counted before the limit
    messages = [(rcpt, body.encode("ascii")) for rcpt, body, _ in rows]
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for rcpt, body in messages:
            smtp.sendmail("news@lichtblick.example", [rcpt], body)
    return (time.perf_counter() - t0) * sent / len(messages), sent
