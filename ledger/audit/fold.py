"""The audit's one door into the domain: which kind a stream is, how one stored event folds
into its state with the domain's invariants checked, and which events may take available
points below zero. Everything else in the audit works on rows, texts and balances, so a change
to how the domain registers stream kinds and their evolve lands here alone."""

from typing import Any, Protocol

import orjson

from ledger.domain.account import AccountState, Balances, evolve
from ledger.domain.events import Event, UnknownEventType, event_from_data
from ledger.domain.program import ProgramState, evolve_program
from ledger.store.audit_reader import EventRow
from ledger.store.records import PROGRAM_STREAM

__all__ = [
    "Balances",
    "Event",
    "StreamFold",
    "Unreplayable",
    "is_account_stream",
    "may_take_available_below_zero",
    "new_fold",
]


class Unreplayable(Exception):
    """The event does not fold: an unknown type, data of the wrong shape, or a domain
    invariant broken after it. The message names the cause."""


class StreamFold(Protocol):
    """One stream's state, folded from its events one at a time."""

    state: Any
    """The domain's state of the stream after the last event folded."""
    event: Event | None
    """The last event folded, decoded; None on a stream whose events are folded from their
    type and data alone (a program's own)."""
    balances: Balances | None
    """An account's balances after the last event folded; None on a stream without them."""

    def fold(self, row: EventRow) -> Balances | None:
        """Folds `row` and returns the balances after it (None on a stream without them).
        Raises Unreplayable, leaving the fold as it was."""
        ...


def is_account_stream(stream_id: str) -> bool:
    return stream_id != PROGRAM_STREAM


def new_fold(stream_id: str) -> StreamFold:
    if is_account_stream(stream_id):
        return _AccountFold()
    return _ProgramFold()


_MAY_GO_NEGATIVE = frozenset({"PurchaseRefunded", "HistoryImported"})


def may_take_available_below_zero(event_type: str) -> bool:
    """A refund under a program that allows it, or an imported history, records a negative
    balance explicitly; any other event taking available below zero is a fault."""
    return event_type in _MAY_GO_NEGATIVE


_NOT_FOLDABLE = (UnknownEventType, KeyError, TypeError, ValueError, AssertionError)
"""What decoding or folding a stored event raises on data it cannot take (orjson's decode
error is a ValueError; check_invariants asserts)."""


class _AccountFold:
    __slots__ = ("balances", "event", "state")

    def __init__(self) -> None:
        self.state = AccountState()
        self.event: Event | None = None
        self.balances: Balances | None = self.state.balances

    def fold(self, row: EventRow) -> Balances | None:
        try:
            event = event_from_data(row.event_type, row.schema_version, orjson.loads(row.data_text))
            state = evolve(self.state, event)
            state.check_invariants()
        except _NOT_FOLDABLE as error:
            raise Unreplayable(f"{type(error).__name__}: {error}") from error
        self.state, self.event = state, event
        self.balances = balances = state.balances
        return balances


class _ProgramFold:
    __slots__ = ("balances", "event", "state")

    def __init__(self) -> None:
        self.state = ProgramState()
        self.event: Event | None = None
        self.balances: Balances | None = None

    def fold(self, row: EventRow) -> Balances | None:
        try:
            self.state = evolve_program(self.state, row.event_type, orjson.loads(row.data_text))
        except _NOT_FOLDABLE as error:
            raise Unreplayable(f"{type(error).__name__}: {error}") from error
        return None
