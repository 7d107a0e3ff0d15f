"""Before a run changes anything: every connection it needs is there (or, in local mode, its
stand-in is named), the config is valid, and links in mail to customers can be reached."""

from __future__ import annotations

import logging

from journeyflow.config import Config, load_config
from journeyflow.connections import NEEDED, MissingConnection, get_connection, local_mode, mode
from journeyflow.states import Channel

log = logging.getLogger(__name__)


def connections_for_run(cfg: Config) -> list[str]:
    """The connections a nightly run with this config uses."""
    channels = {channel for c in cfg.campaigns.campaigns for channel in c.channels}
    needed = ["journeyflow_db", "journeyflow_source"]
    if Channel.EMAIL in channels:
        needed += ["journeyflow_smtp", "journeyflow_unsubscribe"]
    if Channel.POSTAL in channels:
        needed.append("journeyflow_postal_drop")
    return needed


def check_run() -> list[str]:
    """Raise ``MissingConnection`` (production) or ``UnreachableLink``; else the lines that say
    what the run uses, for the task log and the summary."""
    import os

    from journeyflow.unsubscribe.keys import ENV_VAR
    from journeyflow.unsubscribe.links import base_url, check_reachable

    cfg = load_config()
    lines = [f"mode: {mode()}"]
    for conn_id in connections_for_run(cfg):
        if get_connection(conn_id) is not None:
            lines.append(f"{conn_id}: connection")
        elif conn_id == "journeyflow_unsubscribe" and os.environ.get(ENV_VAR):
            lines.append(f"{conn_id}: keys from {ENV_VAR}, links to {base_url()}")
        elif local_mode():
            lines.append(f"{conn_id}: not set, local mode uses {NEEDED[conn_id].local_stand_in}")
        else:
            raise MissingConnection(conn_id)
    for conn_id in connections_for_run(cfg):
        if get_connection(conn_id) is not None:
            _check_usable(conn_id)
    if get_connection("journeyflow_smtp") is not None and "journeyflow_smtp" in (
        connections_for_run(cfg)
    ):
        check_reachable(base_url())
    for line in lines:
        log.info("preflight: %s", line)
    return lines


def _check_usable(conn_id: str) -> None:
    """What can be checked of a connection without touching the system behind it: the source
    has a base URL, the sender address is an address, the drop is sftp or a folder, the
    unsubscribe keys parse. Each raises the error its task would raise later."""
    if conn_id == "journeyflow_source":
        from journeyflow.ingest.extract import source_base_url

        source_base_url(get_connection(conn_id))
    elif conn_id == "journeyflow_smtp":
        from journeyflow.email.transport import sender_address

        sender_address()
    elif conn_id == "journeyflow_postal_drop":
        from journeyflow.postal.drop import open_drop

        open_drop().close()
    elif conn_id == "journeyflow_unsubscribe":
        from journeyflow.unsubscribe.keys import load_keys

        load_keys()
