"""One group-commit batch: decide every request against the streams as they stand, fold the
events in memory (so requests to one stream in one batch see each other), and gather one
commit. Pure apart from the random event ids; the caller does the I/O.

Nothing here knows a kind of stream or an event type: each stream's kind (ledger.domain.kinds)
folds and describes its state, and ledger.domain.decisions says which streams a command reads
and what it appends to each.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.codec import events as event_codec
from ledger.codec import responses, snapshots
from ledger.codec.chain import GENESIS_HASH, canonical_text, hash_of
from ledger.codec.requests import content_hash
from ledger.domain import clock, decisions
from ledger.domain.errors import AlreadyExists
from ledger.domain.events import Event
from ledger.domain.frozen import build, replace
from ledger.domain.kinds import ACCOUNT, PROGRAM, Kind, StreamKey, kind_of
from ledger.domain.orders import Order, evolve_order, order_id_of
from ledger.eventlog.records import (
    Commit,
    EventRecord,
    OrderKey,
    RequestKey,
    RequestRow,
    RequestWrite,
    StreamRow,
    StreamWrite,
)
from ledger.ids import new_redemption_code, random_uuid
from ledger.outcomes import AccountView, Outcome, ProgramView
from ledger.requests import Request


@dataclass
class Slot:
    """One stream as this batch sees it."""

    key: StreamKey
    kind: Kind[Any]
    version: int
    last_hash: bytes
    state: Any
    created_at: str
    updated_at: str
    orders: dict[str, Order | None] = field(default_factory=dict)
    """Orders of this stream known so far (None: known never to have been recorded): a cache
    of what the log was asked, kept current by the events this process appends."""
    dirty: bool = False
    loaded_at: float = 0.0
    """time.monotonic() when read from the log, for the time limit on cached copies of
    streams that other decisions read (kinds' read_by_others)."""

    @classmethod
    def of(cls, key: StreamKey, row: StreamRow | None, now: datetime) -> "Slot":
        kind = kind_of(key[1])
        if row is None:
            created = clock.instant(now)
            return cls(key, kind, 0, GENESIS_HASH, kind.initial(), created, created)
        return cls(
            key,
            kind,
            row.version,
            row.last_hash,
            snapshots.decode(kind, row.state),
            clock.instant(row.created_at),
            clock.instant(row.updated_at),
        )

    def copy(self) -> "Slot":
        """A clean working copy: the batch changes it, the cached original stays as it was
        until the append succeeds."""
        return Slot(
            self.key,
            self.kind,
            self.version,
            self.last_hash,
            self.state,
            self.created_at,
            self.updated_at,
            dict(self.orders),
            False,
            self.loaded_at,
        )

    def account_view(self) -> AccountView:
        return AccountView.of(self.key[0], self.key[1], self.state, self.version, self.created_at)

    def program_view(self) -> ProgramView:
        return ProgramView(self.state, self.created_at, self.updated_at)


def fold_order(events: list[Event]) -> Order | None:
    order: Order | None = None
    for event in events:
        order = evolve_order(order, event)
    return order


class Batch:
    def __init__(
        self,
        rows: Mapping[StreamKey, StreamRow],
        answered: Mapping[RequestKey, RequestRow],
        orders: Mapping[OrderKey, list[EventRecord]],
        now: datetime,
        cached: Mapping[StreamKey, Slot] | None = None,
    ) -> None:
        """`rows` are state rows just loaded and `orders` the events of orders just looked up;
        `cached` are slots known from earlier batches (used where no row was loaded). A stream
        in neither does not exist yet."""
        self._rows = rows
        self._answered = answered
        self._orders = orders
        self._now = now
        self._now_text = clock.instant(now)
        self._cached = cached or {}
        self._slots: dict[StreamKey, Slot] = {}
        self._decided: dict[RequestKey, tuple[bytes, Outcome]] = {}
        self.events: list[EventRecord] = []
        self.requests: list[RequestWrite] = []
        self.erasures: list[StreamKey] = []
        self.replays = 0
        """Requests answered again from an earlier answer to their id."""

    @property
    def has_writes(self) -> bool:
        return bool(self.events or self.requests or self.erasures)

    @property
    def slots(self) -> dict[StreamKey, Slot]:
        return self._slots

    def slot(self, key: StreamKey) -> Slot:
        slot = self._slots.get(key)
        if slot is None:
            row = self._rows.get(key)
            cached = self._cached.get(key) if row is None else None
            if cached is not None:
                slot = cached.copy()
            else:
                slot = Slot.of(key, row, self._now)
                slot.loaded_at = time.monotonic()
            self._slots[key] = slot
        return slot

    # --- decisions.Streams: what a decision reads ----------------------------------------

    def state(self, key: StreamKey) -> object:
        return self._slots[key].state

    def order(self, key: OrderKey) -> Order | None:
        slot = self._slots[key[0]]
        if key[1] not in slot.orders:
            records = self._orders[key]
            slot.orders[key[1]] = fold_order(
                [event_codec.decode(r.event_type, r.schema_version, r.data) for r in records]
            )
        return slot.orders[key[1]]

    def new_code(self) -> str:
        return new_redemption_code()

    # ----------------------------------------------------------------------------------------

    def apply(self, request: Request) -> Outcome:
        """The outcome of `request`: an earlier answer to its id, or a new decision whose
        events join this batch. Raises a LedgerError and changes nothing if refused."""
        request_hash = b""
        if request.request_id is not None:
            request_hash = content_hash(request.target, request.command)
            earlier = self._earlier_answer(request, request_hash)
            if earlier is not None:
                self.replays += 1
                return earlier
        needed = decisions.reads(request.target, request.command, request.also_reads)
        for key in needed.streams:
            self.slot(key)
        decision = decisions.decide(request.target, request.command, self, self._now, needed)
        appended = 0
        accounts: dict[str, AccountView] = {}
        program: ProgramView | None = None
        for key, events in decision.appends:
            slot = self._slots[key]
            self._record(slot, events, request)
            appended += len(events)
            if slot.kind is ACCOUNT:
                accounts[key[1]] = slot.account_view()
            elif slot.kind is PROGRAM:
                program = slot.program_view()
        self.erasures.extend(decision.erases)
        outcome = build(
            Outcome, result=decision.result, accounts=accounts, program=program, appended=appended
        )
        if request.request_id is not None:
            self._decided[request.key] = (request_hash, outcome)
            self.requests.append(
                build(
                    RequestWrite,
                    program_id=request.key[0],
                    stream_id=request.key[1],
                    request_id=request.key[2],
                    request_hash=request_hash,
                    response=responses.encode(outcome),
                    recorded_at=self._now,
                )
            )
        return outcome

    def commit(self) -> Commit:
        writes = []
        for slot in self._slots.values():
            if not slot.dirty:
                continue
            writes.append(
                StreamWrite(
                    slot.key[0],
                    slot.key[1],
                    slot.version,
                    slot.last_hash,
                    snapshots.encode(slot.kind, slot.state),
                    slot.kind.balances(slot.state),
                    slot.kind.next_due_at(slot.state),
                    self._now,
                )
            )
        return Commit(self.events, writes, self.requests, tuple(self.erasures))

    def _earlier_answer(self, request: Request, request_hash: bytes) -> Outcome | None:
        stored = self._answered.get(request.key)
        if stored is not None:
            if stored.request_hash != request_hash:
                raise _reused(request)
            return responses.decode(stored.response, request.command)
        decided = self._decided.get(request.key)
        if decided is not None:
            if decided[0] != request_hash:
                raise _reused(request)
            return replace(decided[1], appended=0)
        return None

    def _record(self, slot: Slot, events: Sequence[Event], request: Request) -> None:
        metadata = {  # in jsonb's key order, like every document the chain hashes
            "actor": request.actor,
            "command": type(request.command).__name__,
            "trace_id": request.trace_id,
            "request_id": request.request_id or "",
        }
        for event in events:
            data = event_codec.encode(event)
            slot.state = slot.kind.evolve(slot.state, event)
            order_id = order_id_of(event)
            if order_id is not None and order_id in slot.orders:
                slot.orders[order_id] = evolve_order(slot.orders[order_id], event)
            balances = slot.kind.balances(slot.state)
            slot.version += 1
            slot.updated_at = self._now_text
            event_id = random_uuid()
            # The text is rendered from the fields before the record exists, so the frozen
            # record is built once, hash included, rather than built and copied per event.
            canonical = canonical_text(
                program_id=slot.key[0],
                stream_id=slot.key[1],
                version=slot.version,
                event_id=event_id,
                event_type=event.event_type,
                schema_version=event.schema_version,
                data=data,
                metadata=metadata,
                recorded_at=self._now,
                balances=balances,
                in_order=True,
            )
            digest = hash_of(slot.last_hash, canonical)
            self.events.append(
                build(
                    EventRecord,
                    program_id=slot.key[0],
                    stream_id=slot.key[1],
                    version=slot.version,
                    event_id=event_id,
                    event_type=event.event_type,
                    schema_version=event.schema_version,
                    data=data,
                    metadata=metadata,
                    recorded_at=self._now,
                    balances=balances,
                    hash=digest,
                    transaction_id=0,
                    position=0,
                    canonical=canonical,
                )
            )
            slot.last_hash = digest
            slot.dirty = True


def _reused(request: Request) -> AlreadyExists:
    return AlreadyExists(
        "request_id was used before for a different request",
        reason="REQUEST_ID_REUSED",
        request_id=request.request_id or "",
    )
