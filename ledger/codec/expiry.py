"""Lot expiries as stored, read as the instants the domain holds.

The first release keyed lots by a date D, and its lots expired at the start of D, UTC
(ledger/domain/expiry.py); since then an expiry is stored as that instant itself. Stored
events, snapshot rows and answers keep what they hold (an event's bytes are what its hash
covers), so every reader of a lot's expiry goes through `expiry_of`, and an old lot reads as
the very instant it always expired at.
"""

from functools import lru_cache

from ledger.domain import clock

_DATE_LENGTH = len("2026-11-22")


@lru_cache(maxsize=4096)  # the same few expiries recur in every row read
def expiry_of(stored: str | None) -> str | None:
    if stored is not None and len(stored) == _DATE_LENGTH:
        return clock.start_of_day_instant(stored)
    return stored
