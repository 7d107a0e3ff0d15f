"""One-click unsubscribe (RFC 8058): signed link tokens, rotating keys, suppressions, web app.

Every marketing email carries ``List-Unsubscribe: <https://…/u/TOKEN>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` plus a visible link to the same URL.

Token: ``KID.PAYLOAD.MAC``, all base64url without padding (URL-safe as is). PAYLOAD is the JSON
list ``[channel, campaign, contact_id]``; MAC is HMAC-SHA256 over ``jf-unsub-v1.KID.PAYLOAD``,
truncated to 128 bits. Tokens are signed, not encrypted (they carry ids, never addresses), and do
not expire: a link must keep working. A token verifies while its key id is still configured.

Keys (first source found wins): the password of Airflow connection ``journeyflow_unsubscribe``,
else env ``JOURNEYFLOW_UNSUBSCRIBE_KEYS``, both ``"kid1:secret1,kid0:secret0"``; else a local demo
key in ``$JOURNEYFLOW_HOME/unsubscribe.key``, created on first use. The first key signs, every
key verifies, so rotation is: prepend the new key, keep the old one while its links matter.

The web app (``create_app``) confirms on GET and unsubscribes only on POST, because link scanners
prefetch GETs. Mail clients' one-click POST and the confirmation form both POST to the same URL.
"""

from typing import Any

from journeyflow.unsubscribe.keys import (
    CONN_ID,
    ENV_VAR,
    KEY_FORMAT,
    MIN_SECRET_LENGTH,
    Keys,
    UnsubscribeKeyError,
    key_file,
    load_keys,
    parse_keys,
)
from journeyflow.unsubscribe.tokens import Claim, make_token, unsubscribe_url, verify_token

__all__ = [
    "CONN_ID", "ENV_VAR", "KEY_FORMAT", "MAX_BODY_BYTES", "MIN_SECRET_LENGTH", "REASON", "Claim",
    "Keys", "UnsubscribeKeyError", "create_app", "key_file", "load_keys", "make_token",
    "parse_keys", "render_page", "suppress", "unsubscribe_url", "verify_token",
]  # fmt: skip

_APP = ("MAX_BODY_BYTES", "REASON", "create_app", "render_page", "suppress")


def __getattr__(name: str) -> Any:
    """The web app's names, imported on first use: signing tokens (every rendering worker) then
    does not load the app, the warehouse and SQLAlchemy."""
    if name in _APP:
        from journeyflow.unsubscribe import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
