"""The journeyflow plugin for the Airflow UI: the cockpit under ``/journeyflow`` (a
"Journeyflow" menu and a view on every DAG run page), the public unsubscribe endpoint
``/journeyflow/u/<token>``, and the configured timezone as the UI's default."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from journeyflow.cockpit.app import PAGES, create_app
from journeyflow.cockpit.timezone import DefaultTimezone
from journeyflow.unsubscribe import create_app as create_unsubscribe_app

MENU = [
    {"name": label, "href": f"/journeyflow/{key}", "url_route": f"journeyflow-{key}",
     "category": "Journeyflow", "destination": "nav"}
    for key, label in PAGES
]  # fmt: skip
TOP = {  # one entry in the UI's top navigation; the pages have tabs of their own
    "name": "Journeyflow", "href": "/journeyflow/funnel", "url_route": "journeyflow",
    "nav_top_level": True, "destination": "nav",
}  # fmt: skip
RUN_VIEW = {
    "name": "Journeyflow",
    "href": "/journeyflow/runs/by-id?dag_id={DAG_ID}&run_id={RUN_ID}",
    "url_route": "journeyflow-run",
    "destination": "dag_run",
}


class JourneyflowPlugin(AirflowPlugin):
    name = "journeyflow"
    fastapi_apps = [
        {"app": create_app(create_unsubscribe_app()), "url_prefix": "/journeyflow",
         "name": "journeyflow"}
    ]  # fmt: skip
    fastapi_root_middlewares = [{"middleware": DefaultTimezone, "name": "journeyflow_timezone"}]
    external_views = [TOP, *MENU, RUN_VIEW]
