"""Where unsubscribe links point: the host of connection ``journeyflow_unsubscribe``.

Locally the config's ``campaigns.unsubscribe_url`` (default: the endpoint the Airflow plugin
serves on localhost). Outside local mode, a link that goes out through a mail server must reach
the recipient: https (RFC 8058 one-click requires it), and not localhost or a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from journeyflow.config import load_config
from journeyflow.unsubscribe.keys import CONN_ID

_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


class UnreachableLink(ValueError):
    """The unsubscribe base URL could not be reached by a recipient."""


def base_url() -> str:
    """The unsubscribe base URL: the connection's host (an absolute URL, or host [+ port, path]
    from a URI), else ``campaigns.unsubscribe_url``."""
    from journeyflow.connections import get_connection

    conn = get_connection(CONN_ID)
    if conn is None or not conn.host:
        return load_config().campaigns.unsubscribe_url
    host = str(conn.host).strip()
    if "://" in host:
        return host
    port = f":{conn.port}" if conn.port else ""
    path = str(conn.schema or "").strip("/")
    return f"https://{host}{port}/{path}/" if path else f"https://{host}{port}/"


def public_problem(url: str) -> str | None:
    """Why a recipient could not use ``url``, or None when it is a public https URL."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https":
        return (
            f"it is {parts.scheme or 'not'} a URL with a scheme"
            if not parts.scheme
            else (f"it uses {parts.scheme}, and one-click unsubscribe needs https")
        )
    if not host:
        return "it has no host"
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return f"{host} is not a public host name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not all(part.isdigit() for part in host.split(".")):
            return None
        try:  # a short or legacy IPv4 spelling browsers accept: 127.1, 10.1, 3232235777
            address = ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return f"{host} is not a host name"
    if not address.is_global:
        return f"{host} is a private or local address"
    return None


def check_reachable(url: str) -> None:
    """``UnreachableLink`` naming the fix when ``url`` cannot be used in mail to customers."""
    problem = public_problem(url)
    if problem:
        raise UnreachableLink(
            f"the unsubscribe links would point at {url!r}, which recipients cannot use: "
            f"{problem}. Set the host of connection {CONN_ID} to the public https base URL of "
            "the unsubscribe endpoint, e.g. https://airflow.shop.example/journeyflow/u/"
        )
