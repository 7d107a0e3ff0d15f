"""Ingest: contacts and behaviour from the shop/CRM into the warehouse.

``client`` owns auth, paging, retries and the cursor; ``streams`` only declare. ``extract``
pulls a stream into staging (bad records to quarantine), ``load`` finishes the batch, ``merge``
upserts it into the core tables and moves the watermarks.
"""

from journeyflow.ingest.client import HttpSource, Malformed, SourceError, Stream
from journeyflow.ingest.extract import extract
from journeyflow.ingest.load import load
from journeyflow.ingest.merge import merge
from journeyflow.ingest.streams import CONTACTS, EVENTS, STREAMS

__all__ = [
    "CONTACTS", "EVENTS", "STREAMS", "HttpSource", "Malformed", "SourceError", "Stream",
    "extract", "load", "merge",
]  # fmt: skip
