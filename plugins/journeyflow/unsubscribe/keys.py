"""Unsubscribe signing keys: ``kid:secret`` pairs, the first signs, every one verifies.

Keys (first source found wins): the password of Airflow connection ``journeyflow_unsubscribe``,
else env ``JOURNEYFLOW_UNSUBSCRIBE_KEYS``, both ``"kid1:secret1,kid0:secret0"``; else a local demo
key in ``$JOURNEYFLOW_HOME/unsubscribe.key``, created on first use.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from journeyflow.config import ConfigError, home

log = logging.getLogger(__name__)

CONN_ID = "journeyflow_unsubscribe"
ENV_VAR = "JOURNEYFLOW_UNSUBSCRIBE_KEYS"
KEY_FILE_NAME = "unsubscribe.key"
LOCAL_KID = "local"
KEY_FORMAT = "'kid1:secret1,kid0:secret0'"
MIN_SECRET_LENGTH = 16
KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class UnsubscribeKeyError(ConfigError):
    """Unsubscribe keys are missing or malformed; the message names the source and the format."""


@dataclass(frozen=True)
class Keys:
    """Unsubscribe signing keys in order: the first signs, every one verifies."""

    entries: tuple[tuple[str, bytes], ...] = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.entries:
            raise UnsubscribeKeyError(f"{self.source or 'unsubscribe keys'}: no key given")

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.entries)

    @property
    def signing_kid(self) -> str:
        return self.entries[0][0]

    def secret(self, kid: str) -> bytes | None:
        """The secret for ``kid``, or None when that key is not (or no longer) configured."""
        for known, secret in self.entries:
            if known == kid:
                return secret
        return None

    def __repr__(self) -> str:
        return f"Keys(kids={self.kids!r}, source={self.source!r})"


def parse_keys(text: str, source: str = ENV_VAR) -> Keys:
    """Parse ``"kid1:secret1,kid0:secret0"``; errors name ``source`` but never echo a secret."""

    def fail(problem: str) -> UnsubscribeKeyError:
        return UnsubscribeKeyError(
            f"{source}: malformed unsubscribe keys ({problem}); expected {KEY_FORMAT}: "
            f"comma-separated kid:secret pairs, kid of 1-32 letters, digits, '_' or '-', "
            f"secret of at least {MIN_SECRET_LENGTH} characters without ','; "
            f"the first key signs, every key verifies"
        )

    if not isinstance(text, str) or not text.strip():
        raise fail("empty")
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # tolerate one trailing comma
    entries: list[tuple[str, bytes]] = []
    for number, raw in enumerate(parts, start=1):
        entry = raw.strip()
        if not entry:
            raise fail(f"entry {number} is empty")
        kid, sep, secret = entry.partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not sep:
            raise fail(f"entry {number} has no ':' between kid and secret")
        if not KID_RE.fullmatch(kid):
            raise fail(f"entry {number} has an invalid kid")
        if len(secret) < MIN_SECRET_LENGTH:
            raise fail(
                f"entry {number} (kid {kid!r}) has a secret shorter than {MIN_SECRET_LENGTH}"
            )
        if any(kid == known for known, _ in entries):
            raise fail(f"kid {kid!r} appears twice")
        entries.append((kid, secret.encode("utf-8")))
    return Keys(tuple(entries), source)


def key_file() -> Path:
    """The local demo key file: ``$JOURNEYFLOW_HOME/unsubscribe.key``."""
    return home() / KEY_FILE_NAME


def load_keys() -> Keys:
    """Keys from connection ``journeyflow_unsubscribe``, else the env var, else (local mode
    only) the local key file; otherwise ``MissingConnection``.

    Calls Airflow's connection lookup each time: callers signing many tokens load once and pass
    the result on.
    """
    from journeyflow.connections import MissingConnection, get_connection, local_mode, local_secret

    conn = get_connection(CONN_ID)
    if conn is not None and conn.password:
        keys = parse_keys(conn.password, f"Airflow connection {CONN_ID!r} (password)")
    elif os.environ.get(ENV_VAR) is not None:
        keys = parse_keys(os.environ[ENV_VAR], f"environment variable {ENV_VAR}")
    elif conn is not None:
        keys = parse_keys("", f"Airflow connection {CONN_ID!r} (password)")
    elif not local_mode():
        raise MissingConnection(CONN_ID)
    else:
        path = key_file()
        made = f"{LOCAL_KID}:{secrets.token_urlsafe(32)}\n"
        keys = parse_keys(local_secret(path, made, WHAT), f"key file {path}")
    log.debug("unsubscribe keys from %s, kids %s", keys.source, ", ".join(keys.kids))
    return keys


WHAT = (
    f"unsubscribe key: links signed with it verify only with this file; set connection "
    f"{CONN_ID} or {ENV_VAR} for production"
)
