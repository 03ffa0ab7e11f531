"""One group-commit batch: decide every request against the streams as they stand, fold the
events in memory (so requests to one stream in one batch see each other), and gather one
append. Pure apart from the random event ids; the caller does the I/O."""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ledger.domain import clock
from ledger.domain.account import AccountState, Balances, evolve
from ledger.domain.commands import CreateProgram, TransferPoints, UpdateProgram
from ledger.domain.decide import decide, decide_program, decide_transfer, next_due_at
from ledger.domain.errors import AlreadyExists
from ledger.domain.events import Event
from ledger.domain.frozen import build, replace
from ledger.domain.program import ProgramState, evolve_program
from ledger.ids import random_uuid
from ledger.outcomes import AccountView, AppendedEvent, Outcome, ProgramView
from ledger.requests import Request, RequestKey, StreamKey
from ledger.store.chain import GENESIS_HASH, canonical_text, hash_of
from ledger.store.eventstore import RequestWrite
from ledger.store.records import PROGRAM_STREAM, EventRecord, RequestRow, StreamRow, StreamWrite


@dataclass
class Slot:
    """One stream as this batch sees it."""

    program_id: str
    stream_id: str
    version: int
    last_hash: bytes
    created_at: str
    account: AccountState = field(default_factory=AccountState)
    program: ProgramState = field(default_factory=ProgramState)
    updated_at: str = ""
    dirty: bool = False
    loaded_at: float = 0.0
    """time.monotonic() when read from the database, for the program cache's time limit."""

    @classmethod
    def of(cls, key: StreamKey, row: StreamRow | None, now: datetime) -> "Slot":
        if row is None:
            return cls(key[0], key[1], 0, GENESIS_HASH, clock.instant(now))
        slot = cls(key[0], key[1], row.version, row.last_hash, clock.instant(row.created_at))
        if key[1] == PROGRAM_STREAM:
            slot.program = ProgramState.from_data(row.state["program"])
            slot.updated_at = row.state["updated_at"]
        else:
            slot.account = AccountState.from_data(row.state)
        return slot

    def copy(self) -> "Slot":
        """A clean working copy: the batch changes it, the cached original stays as it was
        until the append succeeds. (frozen.replace: dataclasses.replace would re-run
        __init__, too slow for a copy made twice per request.)"""
        return replace(self, dirty=False)

    def view(self) -> AccountView:
        return AccountView.of(self.program_id, self.account, self.version, self.created_at)

    def program_view(self) -> ProgramView:
        return ProgramView(self.program, self.created_at, self.updated_at or self.created_at)


class Batch:
    def __init__(
        self,
        rows: dict[StreamKey, StreamRow],
        answered: dict[RequestKey, RequestRow],
        now: datetime,
        cached: Mapping[StreamKey, Slot] | None = None,
    ) -> None:
        """`rows` are state rows just loaded; `cached` are slots known from earlier batches
        (used where no row was loaded). A stream in neither does not exist yet."""
        self._rows = rows
        self._answered = answered
        self._now = now
        self._cached = cached or {}
        self._slots: dict[StreamKey, Slot] = {}
        self._decided: dict[RequestKey, tuple[bytes, Outcome]] = {}
        self.events: list[EventRecord] = []
        self.requests: list[RequestWrite] = []

    @property
    def has_writes(self) -> bool:
        return bool(self.events or self.requests)

    @property
    def slots(self) -> dict[StreamKey, Slot]:
        return self._slots

    def slot(self, key: StreamKey) -> Slot:
        if key not in self._slots:
            row = self._rows.get(key)
            cached = self._cached.get(key) if row is None else None
            if cached is not None:
                self._slots[key] = cached.copy()
            else:
                self._slots[key] = Slot.of(key, row, self._now)
                self._slots[key].loaded_at = time.monotonic()
        return self._slots[key]

    def apply(self, request: Request) -> Outcome:
        """The outcome of `request`: an earlier answer to its id, or a new decision whose
        events join this batch. Raises a LedgerError and changes nothing if refused."""
        content_hash = b""
        if request.request_id is not None:
            content_hash = request.content_hash()
            earlier = self._earlier_answer(request, content_hash)
            if earlier is not None:
                return earlier
        program_slot = self.slot((request.program_id, PROGRAM_STREAM))
        command = request.command
        changes: list[tuple[Slot, list[Event]]]
        if isinstance(command, (CreateProgram, UpdateProgram)):
            changes = [(program_slot, decide_program(program_slot.program, command))]
        elif isinstance(command, TransferPoints):
            assert request.destination_stream_id is not None
            source = self.slot((request.program_id, request.stream_id))
            destination = self.slot((request.program_id, request.destination_stream_id))
            out, into = decide_transfer(
                source.account, destination.account, program_slot.program, command, self._now
            )
            changes = [(source, out), (destination, into)]
        else:
            target = self.slot((request.program_id, request.stream_id))
            changes = [(target, decide(target.account, program_slot.program, command, self._now))]
        appended: list[AppendedEvent] = []
        for slot, events in changes:
            appended += self._record(slot, events, request)
        outcome = build(
            Outcome,
            events=tuple(appended),
            accounts={
                slot.stream_id: slot.view()
                for slot, _ in changes
                if slot.stream_id != PROGRAM_STREAM
            },
            program=program_slot.program_view()
            if isinstance(command, (CreateProgram, UpdateProgram))
            else None,
        )
        if request.request_id is not None:
            self._decided[request.key] = (content_hash, outcome)
            self.requests.append((*request.key, content_hash, outcome.to_data(), self._now))
        return outcome

    def stream_writes(self) -> list[StreamWrite]:
        writes = []
        for slot in self._slots.values():
            if not slot.dirty:
                continue
            if slot.stream_id == PROGRAM_STREAM:
                state = {"program": slot.program.to_data(), "updated_at": slot.updated_at}
                balances, due = Balances(), None
            else:
                state = slot.account.to_data()
                balances = slot.account.balances
                due = next_due_at(slot.account)
            writes.append(
                StreamWrite(
                    slot.program_id,
                    slot.stream_id,
                    slot.version,
                    slot.last_hash,
                    state,
                    balances,
                    due,
                    self._now,
                )
            )
        return writes

    def _earlier_answer(self, request: Request, content_hash: bytes) -> Outcome | None:
        stored = self._answered.get(request.key)
        if stored is not None:
            if stored.request_hash != content_hash:
                raise _reused(request)
            return Outcome.from_data(stored.response)
        decided = self._decided.get(request.key)
        if decided is not None:
            if decided[0] != content_hash:
                raise _reused(request)
            return decided[1]
        return None

    def _record(self, slot: Slot, events: list[Event], request: Request) -> list[AppendedEvent]:
        appended = []
        metadata = {  # in jsonb's key order, like every document the chain hashes
            "actor": request.actor,
            "command": type(request.command).__name__,
            "trace_id": request.trace_id,
            "request_id": request.request_id or "",
        }
        for event in events:
            data = event.to_data()
            if slot.stream_id == PROGRAM_STREAM:
                slot.program = evolve_program(slot.program, event.event_type, data)
                slot.updated_at = clock.instant(self._now)
                balances = Balances()
            else:
                slot.account = evolve(slot.account, event)
                balances = slot.account.balances
            slot.version += 1
            event_id = random_uuid()
            # The text is rendered from the fields before the record exists, so the frozen
            # record is built once, hash included, rather than built and copied per event.
            # Account events build their documents in canonical key order already; program
            # events nest settings built elsewhere, so those are put in order here.
            canonical = canonical_text(
                program_id=slot.program_id,
                stream_id=slot.stream_id,
                version=slot.version,
                event_id=event_id,
                event_type=event.event_type,
                schema_version=event.schema_version,
                data=data,
                metadata=metadata,
                recorded_at=self._now,
                balances=balances,
                in_order=slot.stream_id != PROGRAM_STREAM,
            )
            digest = hash_of(slot.last_hash, canonical)
            self.events.append(
                build(
                    EventRecord,
                    program_id=slot.program_id,
                    stream_id=slot.stream_id,
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
            appended.append(
                build(
                    AppendedEvent,
                    stream_id=slot.stream_id,
                    version=slot.version,
                    event_type=event.event_type,
                    data=data,
                )
            )
        return appended


def _reused(request: Request) -> AlreadyExists:
    return AlreadyExists(
        "request_id was used before for a different request",
        reason="REQUEST_ID_REUSED",
        request_id=request.request_id or "",
    )
