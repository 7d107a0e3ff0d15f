"""The journeyflow plugin for the Airflow UI: the public unsubscribe endpoint under
``/journeyflow/u/<token>``, and the configured timezone as the UI's default."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from journeyflow.cockpit.timezone import DefaultTimezone
from journeyflow.unsubscribe import create_app


class JourneyflowPlugin(AirflowPlugin):
    name = "journeyflow"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/journeyflow", "name": "journeyflow"}]
    fastapi_root_middlewares = [{"middleware": DefaultTimezone, "name": "journeyflow_timezone"}]
