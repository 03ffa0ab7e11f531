"""What an event log reads and writes: records independent of the domain's event classes."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.account import Balances
from ledger.domain.kinds import StreamKey

RequestKey = tuple[str, str, str]
"""(program_id, stream_id, request_id)"""
OrderKey = tuple[StreamKey, str]
"""An order of an account stream: (stream key, order id)."""


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
    """The canonical text the hash was computed over, kept by writers so the append reuses
    it instead of encoding the event a second time; empty on events read back."""

    @property
    def stream(self) -> StreamKey:
        return (self.program_id, self.stream_id)


@dataclass(frozen=True)
class StreamRow:
    """A stream's state row: its head (version, last hash) and its snapshot."""

    program_id: str
    stream_id: str
    version: int
    last_hash: bytes
    state: dict[str, Any]
    """The snapshot, as the kind's snapshot codec wrote it."""
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RequestRow:
    program_id: str
    stream_id: str
    request_id: str
    request_hash: bytes
    response: dict[str, Any]
    recorded_at: datetime


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
class RequestWrite:
    """An accepted request's answer, stored for its retries."""

    program_id: str
    stream_id: str
    request_id: str
    request_hash: bytes
    response: dict[str, Any]
    recorded_at: datetime

    @property
    def key(self) -> RequestKey:
        return (self.program_id, self.stream_id, self.request_id)


@dataclass(frozen=True)
class Commit:
    """One append: every event, state row and answer of a batch, all or none."""

    events: list[EventRecord]
    streams: list[StreamWrite]
    requests: list[RequestWrite]
    erasures: tuple[StreamKey, ...] = ()
    """Account streams whose member link and stored answers are deleted in the same
    transaction (a member being forgotten)."""


@dataclass(frozen=True)
class Loaded:
    """What one load round trip found."""

    streams: dict[StreamKey, StreamRow]
    requests: dict[RequestKey, RequestRow]
    orders: dict[OrderKey, list[EventRecord]]
    """Every event of each order asked for, in version order (empty: never recorded)."""


@dataclass(frozen=True, order=True)
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

    @classmethod
    def of(cls, record: EventRecord) -> "Position":
        return cls(record.transaction_id, record.position)
