"""Alerts to a chat tool: ``POST`` of ``{"text": ...}`` (what Slack, Mattermost, Rocket.Chat and
Teams' workflow webhooks take) to the connection ``journeyflow_alerts`` (http; host = the webhook
URL, password = an optional bearer token)."""

from __future__ import annotations

import time

import requests

from journeyflow.connections import get_connection

WEBHOOK_CONN_ID = "journeyflow_alerts"
TIMEOUT = 10.0
TRIES = 3


def url_of(conn) -> str:  # noqa: ANN001 (an Airflow Connection)
    host = str(conn.host or "")
    if "://" not in host:
        scheme = conn.schema or "https"
        port = f":{conn.port}" if conn.port else ""
        host = f"{scheme}://{host}{port}"
    return host


class WebhookError(RuntimeError):
    """The webhook refused or could not be reached; the message never holds its URL (a chat
    webhook's URL is its secret)."""


def post(text: str) -> str | None:
    """Post ``text``; returns where it went, or None without the connection. Three tries, the
    second after ``Retry-After`` (at most 30 s) or 2 s; raises ``WebhookError`` when it fails."""
    conn = get_connection(WEBHOOK_CONN_ID)
    if conn is None:
        return None
    headers = {"Authorization": f"Bearer {conn.password}"} if conn.password else {}
    url, problem, wait = url_of(conn), "", 0.0
    for attempt in range(TRIES):
        time.sleep(wait)
        wait = 2.0 * (attempt + 1)  # before the next try, unless the server names its own
        try:
            response = requests.post(url, json={"text": text}, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            problem = f"could not reach it ({type(exc).__name__})"
            continue
        if response.status_code < 300:
            return f"webhook {WEBHOOK_CONN_ID} ({response.status_code})"
        problem = f"it answered HTTP {response.status_code}"
        if response.status_code != 429 and response.status_code < 500:
            break  # refused for good: a wrong URL or token
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            wait = min(float(retry_after), 30.0)
    raise WebhookError(f"connection {WEBHOOK_CONN_ID}: {problem}")
