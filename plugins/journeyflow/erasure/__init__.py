"""Identity's other half: forgetting a person on request (GDPR Art. 17) and handing them what
is held about them (Art. 15)."""

from journeyflow.erasure.export import export_data
from journeyflow.erasure.forget import (
    AGAIN,
    REASON,
    Forgotten,
    exclude_staged,
    forget,
    forgotten,
    requested,
)
from journeyflow.erasure.keys import ErasureKey, ErasureKeyError, load_key

__all__ = [
    "AGAIN", "REASON", "ErasureKey", "ErasureKeyError", "Forgotten", "exclude_staged",
    "export_data", "forget", "forgotten", "load_key", "requested",
]  # fmt: skip
