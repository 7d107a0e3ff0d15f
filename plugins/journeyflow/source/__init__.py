"""Sources: one HTTP client owns auth, paging, retries and the cursor; streams only declare."""

from journeyflow.source.base import HttpSource, Malformed, SourceError, Stream
from journeyflow.source.streams import CONTACTS, EVENTS, STREAMS

__all__ = ["CONTACTS", "EVENTS", "STREAMS", "HttpSource", "Malformed", "SourceError", "Stream"]
