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
    covers it). A contact in a campaign's control group gets ``held_out``: no message."""

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
    HELD_OUT = "held_out"


class Decision(StrEnum):
    """What a run decided for one candidate of a campaign."""

    QUEUED = "queued"
    HELD = "held"
    EXCLUDED = "excluded"
    HELD_OUT = "held_out"  # due, but in the campaign's holdout: no message, counted as done


class Channel(StrEnum):
    EMAIL = "email"
    POSTAL = "postal"


def _values(*states: Status) -> tuple[str, ...]:
    return tuple(s.value for s in states)


#: done: never tried again (sent, in a mailing, covered by a household member, given up, or
#: held out: the control group counts for the "once" rule as if it had been sent)
DONE = _values(Status.SENT, Status.EXPORTED, Status.HOUSEHOLD, Status.IN_DOUBT, Status.BOUNCED,
               Status.FAILED, Status.HELD_OUT)  # fmt: skip
#: in flight: waiting for a sender
IN_FLIGHT = _values(Status.QUEUED, Status.CLAIMED, Status.SENDING)
#: counted by the caps: what a contact got or will get
CAPPED = _values(Status.SENT, Status.EXPORTED, Status.IN_DOUBT, Status.QUEUED, Status.CLAIMED,
                 Status.SENDING)  # fmt: skip
#: counted by repeat windows: the caps' states, letters a household member got, the holdout
REPEAT = (*CAPPED, Status.HOUSEHOLD.value, Status.HELD_OUT.value)
#: handed out: a rerun of the run date keeps them
OUT = tuple(s for s in CAPPED if s != Status.QUEUED)
#: measured by test and learn: the contacts a message reached, and the held-out control group
MEASURED = _values(Status.SENT, Status.EXPORTED, Status.HOUSEHOLD, Status.HELD_OUT)
