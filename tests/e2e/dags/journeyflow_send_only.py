"""
### journeyflow_send_only

A test DAG: only the ``tripwire_offer`` campaign group of the nightly DAG, built by the same
factory (``<campaign>.send`` mapped over ``sender.shards``), so that the Celery test sends one
campaign with shards on several workers without running the night before it.

#### Triage
Test only.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from journeyflow.tasks import apply_timeouts, campaign_groups, default_args


@dag(
    dag_id="journeyflow_send_only",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["journeyflow"],
    doc_md=__doc__,
    default_args=default_args(),
)
def journeyflow_send_only():
    campaign_groups(only=["tripwire_offer"])


dag = apply_timeouts(journeyflow_send_only())
