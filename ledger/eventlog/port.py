"""What the ledger asks of an event log.

An implementation keeps streams of events (one per account, one per program...), each with a
state row holding its head (version, last hash) and a snapshot, and the stored answer of
every accepted request. Everything one commit holds is appended atomically; a commit whose
events do not continue their streams (another writer appended first) fails whole with
ledger.domain.errors.Conflict, and one that repeats a stored request id with DuplicateRequest.

`deadline` is an instant of time.monotonic() (the event loop's clock) past which the caller
has stopped waiting: the call fails with StoreTimeout instead, and whatever it started in the
log is cancelled (an append cut off that way may or may not have committed, as after a lost
connection: the caller retries with the same request ids).
"""

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from ledger.domain.account import Balances
from ledger.domain.kinds import StreamKey
from ledger.eventlog.horizon import ReadHorizon
from ledger.eventlog.records import (
    Commit,
    EventRecord,
    Loaded,
    OrderKey,
    Position,
    RequestKey,
    StreamRow,
)
from ledger.eventlog.schema import SchemaStatus

MAX_READ_BATCH = 1_000
"""Events one read returns at most; readers page through longer logs."""

RECORDS_ORDER = "PurchaseRecorded"
"""The event type that records an order: a stream holds at most one per order id."""


class EventLog(Protocol):
    async def load(
        self,
        streams: Collection[StreamKey],
        requests: Collection[RequestKey],
        orders: Collection[OrderKey] = (),
        *,
        deadline: float | None = None,
    ) -> Loaded:
        """The state rows of `streams` (missing: not in the result), the stored answers of
        `requests`, and the events of `orders`, as of one moment per kind of thing asked."""
        ...

    async def append(self, commit: Commit, *, deadline: float | None = None) -> None:
        """Appends the commit's events, writes its state rows and stores its answers, and
        erases the links and answers of its erased streams, all or nothing. Raises Conflict,
        DuplicateRequest, StoreUnavailable or StoreTimeout. Conflict also when the commit
        holds a RECORDS_ORDER event for an order its stream already has one of: the ledger
        takes a purchase's order as new without reading it."""
        ...

    async def get_stream(
        self, key: StreamKey, *, deadline: float | None = None
    ) -> StreamRow | None: ...

    # --- members: the erasable link from the ids brands use to pseudonymous keys ----------

    async def member_keys(
        self, program_id: str, member_ids: Collection[str], *, deadline: float | None = None
    ) -> dict[str, str]:
        """The key of each linked member id of the program (unlinked ids left out)."""
        ...

    async def link_members(
        self,
        program_id: str,
        proposed: Mapping[str, str],
        *,
        fingerprints: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> dict[str, str]:
        """Links each member id to its proposed key (and the referral code derived from it,
        with the id's keyed fingerprint from `fingerprints`, if any) unless it is linked
        already; returns the key every id has now (an id whose proposed key or code was
        taken is left out)."""
        ...

    async def member_by_referral_code(
        self, program_id: str, code: str, *, deadline: float | None = None
    ) -> tuple[str, str] | None:
        """(key, keyed fingerprint or "") of the member the code names; None for nobody."""
        ...

    async def member_ids(
        self, keys: Collection[StreamKey], *, deadline: float | None = None
    ) -> dict[StreamKey, str]:
        """The member id behind each account stream key (forgotten ones left out)."""
        ...

    async def expire_answers(self, recorded_before: datetime, limit: int) -> int:
        """Deletes up to `limit` stored answers recorded before the time (in no particular
        order); returns how many went (retention)."""
        ...

    async def unlink_strays(self, linked_before: datetime, since: datetime, limit: int) -> int:
        """Deletes up to `limit` links made in [since, linked_before) that no stream
        followed (an enrolment whose append failed); returns how many went."""
        ...

    async def list_entries(
        self,
        key: StreamKey,
        *,
        after_version: int,
        limit: int,
        event_types: Sequence[str] = (),
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        """A page of one stream's events after `after_version`, oldest first, of the given
        types (all if none) recorded in [start_time, end_time)."""
        ...

    async def balance_as_of(
        self, key: StreamKey, as_of: datetime, *, deadline: float | None = None
    ) -> tuple[int, Balances] | None:
        """(version, balances) stored on the stream's last event recorded at or before
        `as_of`; None if there is none."""
        ...

    async def read_all(
        self,
        after: Position,
        limit: int = MAX_READ_BATCH,
        program_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> list[EventRecord]:
        """Events after `after` in the global order. Never returns an event while one that
        will come before it in that order may still be committed: a reader that stores the
        last position it saw never skips an event."""
        ...

    async def head(self) -> Position:
        """The last event a reader of the global order may see now; (0, 0) if none."""
        ...

    async def newest_committed(self) -> Position:
        """The newest committed event, whether readers of the global order may see it yet or
        not (past head() while an older transaction still runs); (0, 0) if none."""
        ...

    async def read_horizon(self) -> ReadHorizon:
        """How far running transactions hold readers of the global order back."""
        ...

    async def due_streams(self, now: datetime, limit: int) -> list[StreamKey]:
        """Streams with something due by `now` (their snapshot's next due instant), oldest
        first."""
        ...

    async def ping(self, *, deadline: float | None = None) -> None:
        """Returns when the log answers; raises StoreUnavailable or StoreTimeout."""
        ...

    async def schema_status(self, *, deadline: float | None = None) -> SchemaStatus:
        """The migrations this code needs and those the storage has applied (a log without a
        schema of its own has nothing to migrate: always current). Raises StoreUnavailable
        or StoreTimeout when the log does not answer, like ping."""
        ...
