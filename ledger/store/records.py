"""What the store reads and writes, independent of the domain's event classes."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.account import Balances

PROGRAM_STREAM = "$program"
"""stream_id of a program's own stream; member ids cannot contain '$'."""


@dataclass(frozen=True)
class EventRecord:
    program_id: str
    stream_id: str
    version: int
    event_id: str
    """Lower-case hyphenated UUID text, as PostgreSQL prints it and the chain hashes it."""
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    balances: Balances
    hash: bytes
    transaction_id: int = 0
    position: int = 0
    """Global order; known only once stored (0 before)."""
    canonical: str = ""
    """The canonical JSON the hash was computed over, kept by writers so the append reuses
    it instead of encoding the event a second time; empty on events read back."""


@dataclass(frozen=True)
class StreamRow:
    program_id: str
    stream_id: str
    version: int
    last_hash: bytes
    state: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RequestRow:
    program_id: str
    stream_id: str
    request_id: str
    request_hash: bytes
    response: dict[str, Any]


@dataclass(frozen=True)
class StreamWrite:
    """A stream's new state row, written with its events."""

    program_id: str
    stream_id: str
    version: int
    last_hash: bytes
    state: dict[str, Any]
    balances: Balances
    next_due_at: str | None
    """The instant, spelled as events spell them, when housekeeping is next due."""
    updated_at: datetime


@dataclass(frozen=True)
class Position:
    """A place in the global order: (transaction id, position). (0, 0) is before everything."""

    transaction_id: int = 0
    position: int = 0

    def encode(self) -> str:
        return f"{self.transaction_id}-{self.position}"

    @classmethod
    def decode(cls, text: str) -> "Position":
        transaction_id, _, position = text.partition("-")
        value = cls(int(transaction_id), int(position))
        if value.transaction_id < 0 or value.position < 0:
            raise ValueError(text)
        return value
