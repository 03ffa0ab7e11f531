"""The checks of one key range: each stream's versions contiguous, its chain intact, the
domain's invariants after each event, the balances stored on each event and on its state row
equal to the recomputed ones, available below zero only where an event records it, and every
state row matched by a stream of events and every stream by a state row.

Events arrive stream after stream in version order and state rows in the same key order, so
the two are merged in one pass holding one stream's state at a time."""

from collections.abc import Iterator, Sequence

from ledger.audit.chain import StreamChain
from ledger.audit.fold import (
    Balances,
    StreamFold,
    Unreplayable,
    may_take_available_below_zero,
    new_fold,
)
from ledger.audit.report import (
    Discrepancies,
    Discrepancy,
    EventAccumulator,
    Report,
    StreamAccumulator,
)
from ledger.codec.chain import balances_tuple
from ledger.store.audit_reader import EventRow, StateRow


class StreamReplay:
    """One stream being replayed: its chain, its fold and where they stand."""

    __slots__ = ("broken", "chain", "events", "fold", "found", "program_id", "stream_id", "version")

    def __init__(self, program_id: str, stream_id: str, found: Discrepancies) -> None:
        self.program_id = program_id
        self.stream_id = stream_id
        self.found = found
        self.chain = StreamChain(program_id, stream_id)
        self.fold: StreamFold = new_fold(stream_id)
        self.version = 0
        self.events = 0
        self.broken = False
        """After a chain or decoding break, later checks of the stream would only repeat it."""

    def check_event(self, row: EventRow) -> bool:
        """Checks `row`, the stream's next event; whether it folded (the stream is not broken)."""
        self.events += 1
        version = row.version
        if version != self.version + 1:
            self._report(row, "version_gap", f"expected version {self.version + 1}")
        self.version = version
        if self.broken:
            return False
        if not self.chain.follows(row):
            self._report(row, "hash_mismatch", "stored hash differs from the recomputed chain")
            self.broken = True
            return False
        fold = self.fold
        before = fold.balances
        try:
            balances = fold.fold(row)
        except Unreplayable as error:
            self._report(row, "unreplayable", str(error))
            self.broken = True
            return False
        if balances is None or before is None:
            return True
        stored = row.balances_after
        if balances_tuple(balances) != stored:
            self._report(
                row, "balance_mismatch", f"recomputed {balances}, stored {Balances(*stored)}"
            )
        if (
            balances.available < 0
            and balances.available < before.available
            and not may_take_available_below_zero(row.event_type)
        ):
            self._report(
                row, "negative_balance", "available went below zero without a recorded reason"
            )
        return True

    def check_state_row(self, state: StateRow | None) -> None:
        """Checks the stream's state row (None: it has none) against what its events replayed
        to."""
        if state is None:
            self._report_stream("missing_state", "no state row")
            return
        if state.version != self.version or state.last_hash != self.chain.last_hash:
            self._report_stream("state_mismatch", f"state row at version {state.version}")
            return
        replayed = self.fold.balances
        if replayed is not None and state.balances != balances_tuple(replayed):
            self._report_stream(
                "state_mismatch",
                f"state row balances {Balances(*state.balances)}, replayed {replayed}",
            )

    def _report(self, row: EventRow, kind: str, detail: str) -> None:
        self.found.add(
            Discrepancy(self.program_id, self.stream_id, row.version, row.event_id, kind, detail)
        )

    def _report_stream(self, kind: str, detail: str) -> None:
        self.found.add(Discrepancy(self.program_id, self.stream_id, self.version, "", kind, detail))


def check_range(events: Iterator[EventRow], states: Iterator[StateRow], report: Report) -> None:
    """Checks every stream of a key range, and every state row of it, into `report`."""
    found = report.found
    per_event: Sequence[EventAccumulator] = report.event_accumulators()
    per_stream: Sequence[StreamAccumulator] = report.stream_accumulators()
    pending_state: StateRow | None = next(states, None)
    stream: StreamReplay | None = None
    program_id = stream_id = ""
    for row in events:
        if stream is None or row.stream_id != stream_id or row.program_id != program_id:
            if stream is not None:
                pending_state = _close(stream, pending_state, states, found, per_stream)
            program_id, stream_id = row.program_id, row.stream_id
            stream = StreamReplay(program_id, stream_id, found)
        if stream.check_event(row) and per_event:
            for accumulator in per_event:
                accumulator.add_event(stream, row)
    if stream is not None:
        pending_state = _close(stream, pending_state, states, found, per_stream)
    while pending_state is not None:
        _orphan(pending_state, found)
        pending_state = next(states, None)


def _close(
    stream: StreamReplay,
    pending_state: StateRow | None,
    states: Iterator[StateRow],
    found: Discrepancies,
    per_stream: Sequence[StreamAccumulator],
) -> StateRow | None:
    """Matches the stream with its state row, reporting the state rows before it as orphans;
    returns the first state row after it."""
    key = (stream.program_id, stream.stream_id)
    while pending_state is not None and pending_state.key < key:
        _orphan(pending_state, found)
        pending_state = next(states, None)
    if pending_state is None or pending_state.key != key:
        stream.check_state_row(None)
    else:
        stream.check_state_row(pending_state)
        pending_state = next(states, None)
    for accumulator in per_stream:
        accumulator.add_stream(stream)
    return pending_state


def _orphan(state: StateRow, found: Discrepancies) -> None:
    found.add(
        Discrepancy(
            state.program_id,
            state.stream_id,
            state.version,
            "",
            "orphan_state",
            "state row without events",
        )
    )
