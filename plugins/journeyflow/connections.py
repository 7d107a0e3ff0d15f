"""Look up Airflow connections (metadata DB, secrets backends or ``AIRFLOW_CONN_*`` env)."""

from __future__ import annotations

from typing import Any


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None when it is not defined anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowRuntimeError

    try:
        return Connection.get(conn_id)
    except AirflowRuntimeError:
        return None
    except Exception as exc:  # AirflowNotFoundException lives in different modules across 3.x
        if type(exc).__name__ == "AirflowNotFoundException":
            return None
        raise
