"""One vocabulary for the states of a message and of a campaign decision.

The database holds the same lists as check constraints (``sql/schema/009_states.sql``); a test
keeps the two equal.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """An outbox row: ``queued`` -> ``claimed`` (a sender took it) -> ``sending`` (handed to
    SMTP) -> ``sent``; or ``bounced``, ``failed``, ``in_doubt``, ``cancelled``. A letter goes
    ``queued`` -> ``exported`` (in a built mailing) or ``household`` (a housemate's letter
    covers it)."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    EXPORTED = "exported"
    HOUSEHOLD = "household"
    IN_DOUBT = "in_doubt"
    BOUNCED = "bounced"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Decision(StrEnum):
    """What a run decided for one candidate of a campaign."""

    QUEUED = "queued"
    HELD = "held"
    EXCLUDED = "excluded"


class Channel(StrEnum):
    EMAIL = "email"
    POSTAL = "postal"


def _values(*states: Status) -> tuple[str, ...]:
    return tuple(s.value for s in states)


#: done: never tried again (sent, in a mailing, covered by a household member, given up)
DONE = _values(Status.SENT, Status.EXPORTED, Status.HOUSEHOLD, Status.IN_DOUBT, Status.BOUNCED,
               Status.FAILED)  # fmt: skip
#: in flight: waiting for a sender
IN_FLIGHT = _values(Status.QUEUED, Status.CLAIMED, Status.SENDING)
#: counted by the caps: what a contact got or will get
CAPPED = _values(Status.SENT, Status.EXPORTED, Status.IN_DOUBT, Status.QUEUED, Status.CLAIMED,
                 Status.SENDING)  # fmt: skip
#: counted by repeat windows: the caps' states, and letters a household member got
REPEAT = (*CAPPED, Status.HOUSEHOLD.value)
#: handed out: a rerun of the run date keeps them
OUT = tuple(s for s in CAPPED if s != Status.QUEUED)
