"""The erasure key: what keys the hashes that stay of a forgotten person.

A forgotten person leaves ``HMAC-SHA256(key, "id:" + contact_id)`` and ``HMAC-SHA256(key,
"email:" + lower(email))``, nothing else that names them; an import of the same person is
recognised by recomputing the hashes, in PostgreSQL (``sha256`` is built in, HMAC is two of
them). Without the key the hashes cannot be reversed or matched.

Key (first source found wins): the password of Airflow connection ``journeyflow_erasure``, else
env ``JOURNEYFLOW_ERASURE_KEY``; else, in local mode only, ``$JOURNEYFLOW_HOME/erasure.key``,
created on first use. Keep it as long as the warehouse: a new key recognises nobody forgotten
before, and journeyflow refuses to run with one (``ErasureKeyError``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from journeyflow.config import ConfigError, home

CONN_ID = "journeyflow_erasure"
ENV_VAR = "JOURNEYFLOW_ERASURE_KEY"
KEY_FILE_NAME = "erasure.key"
MIN_LENGTH = 16
_BLOCK = 64  # SHA-256's block size, for HMAC


class ErasureKeyError(ConfigError):
    """The erasure key is missing, too short, or not the one the stored hashes were made with."""


@dataclass(frozen=True)
class ErasureKey:
    secret: bytes = field(repr=False)
    source: str = ""

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (stored next to every hash it made)."""
        return hashlib.sha256(b"journeyflow erasure key id:" + self.secret).hexdigest()[:12]

    def hash_id(self, contact_id: str) -> str:
        return self._hmac("id:" + contact_id)

    def hash_email(self, email: str | None) -> str | None:
        return None if not email else self._hmac("email:" + email.strip().lower())

    def _hmac(self, value: str) -> str:
        return hmac.new(self.secret, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def sql_params(self) -> dict[str, bytes]:
        """``ikey``/``okey`` for ``sql/erasure/*.sql``: HMAC as ``sha256(okey || sha256(ikey ||
        message))`` (RFC 2104), so PostgreSQL hashes staged rows without the key in clear."""
        key = self.secret if len(self.secret) <= _BLOCK else hashlib.sha256(self.secret).digest()
        key = key.ljust(_BLOCK, b"\0")
        return {
            "ikey": bytes(b ^ 0x36 for b in key),
            "okey": bytes(b ^ 0x5C for b in key),
        }


def load_key() -> ErasureKey:
    """The erasure key from connection ``journeyflow_erasure``, the env var or (local mode) the
    local key file; otherwise ``MissingConnection``."""
    from journeyflow.connections import MissingConnection, get_connection, local_mode, local_secret

    conn = get_connection(CONN_ID)
    if conn is not None:
        secret, source = conn.password or "", f"Airflow connection {CONN_ID!r} (password)"
    elif os.environ.get(ENV_VAR) is not None:
        secret, source = os.environ[ENV_VAR], f"environment variable {ENV_VAR}"
    elif local_mode():
        path = home() / KEY_FILE_NAME
        what = (
            "erasure key: it keys the hashes that stay of forgotten people; set connection "
            f"{CONN_ID} or {ENV_VAR} for production"
        )
        secret = local_secret(path, secrets.token_urlsafe(32) + "\n", what)
        source = f"key file {path}"
    else:
        raise MissingConnection(CONN_ID)
    secret = secret.strip()
    if len(secret) < MIN_LENGTH:
        raise ErasureKeyError(
            f"{source}: the erasure key must be a secret of at least {MIN_LENGTH} characters "
            "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return ErasureKey(secret.encode("utf-8"), source)
