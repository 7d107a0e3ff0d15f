"""Alerts to a chat tool: ``POST`` of ``{"text": ...}`` (what Slack, Mattermost, Rocket.Chat and
Teams' workflow webhooks take) to the connection ``journeyflow_alerts`` (http; host = the webhook
URL, password = an optional bearer token)."""

from __future__ import annotations

import requests

from journeyflow.connections import get_connection

WEBHOOK_CONN_ID = "journeyflow_alerts"
TIMEOUT = 10.0


def url_of(conn) -> str:  # noqa: ANN001 (an Airflow Connection)
    host = str(conn.host or "")
    if "://" not in host:
        scheme = conn.schema or "https"
        port = f":{conn.port}" if conn.port else ""
        host = f"{scheme}://{host}{port}"
    return host


def post(text: str) -> str | None:
    """Post ``text``; returns where it went, or None without the connection. Raises on a
    refusal (the caller logs it: an alert that cannot be delivered must not hide the failure)."""
    conn = get_connection(WEBHOOK_CONN_ID)
    if conn is None:
        return None
    headers = {"Authorization": f"Bearer {conn.password}"} if conn.password else {}
    url = url_of(conn)
    for attempt in range(3):
        try:
            response = requests.post(url, json={"text": text}, headers=headers, timeout=TIMEOUT)
        except requests.RequestException:
            if attempt == 2:
                raise
            continue
        if response.status_code < 500 and response.status_code != 429:
            response.raise_for_status()
            return f"webhook {WEBHOOK_CONN_ID} ({response.status_code})"
        if attempt == 2:
            response.raise_for_status()
    return None
