"""The audit's one door into the domain: which kind a stream is, how one stored event folds
into its state with the domain's invariants checked, and which events may take available
points below zero. Everything else in the audit works on rows, texts and balances, so a change
to how the domain registers stream kinds and their evolve lands here alone."""

from typing import Any, Protocol

import orjson

from ledger.codec import events as event_codec
from ledger.codec.events import UnknownEventType
from ledger.domain.account import Balances
from ledger.domain.events import Event
from ledger.domain.kinds import ACCOUNT, Kind, kind_of, member_of, program_key
from ledger.domain.program import ProgramState
from ledger.store.audit_reader import EventRow

__all__ = [
    "Balances",
    "Event",
    "StreamFold",
    "Unreplayable",
    "is_account_stream",
    "may_take_available_below_zero",
    "new_fold",
    "point_values_of",
    "program_stream_id",
    "time_zone_of",
]


class Unreplayable(Exception):
    """The event does not fold: an unknown type, data of the wrong shape, or a domain
    invariant broken after it. The message names the cause."""


class StreamFold(Protocol):
    """One stream's state, folded from its events one at a time."""

    state: Any
    """The domain's state of the stream after the last event folded."""
    event: Event | None
    """The last event folded, decoded (None before the first)."""
    balances: Balances | None
    """An account's balances after the last event folded; None on a stream without them."""

    def fold(self, row: EventRow) -> Balances | None:
        """Folds `row` and returns the balances after it (None on a stream without them).
        Raises Unreplayable, leaving the fold as it was."""
        ...


def is_account_stream(stream_id: str) -> bool:
    return member_of(stream_id) is not None


def new_fold(stream_id: str) -> StreamFold:
    try:
        kind = kind_of(stream_id)
    except ValueError as error:
        return _NoKind(str(error))
    return _KindFold(kind)


_MAY_GO_NEGATIVE = frozenset({"PurchaseRefunded", "HistoryImported"})


def point_values_of(state: Any) -> dict[str, int] | None:
    """A program stream's point values (currency -> nanos per point); None for another kind."""
    if not isinstance(state, ProgramState):
        return None
    return {value.currency_code: value.nanos_per_point for value in state.settings.point_values}


def program_stream_id() -> str:
    """The id every program's own stream has (its settings' revisions)."""
    return program_key("")[1]


def time_zone_of(state: Any) -> str | None:
    """A program stream's time zone (an IANA name); None for another kind."""
    if not isinstance(state, ProgramState):
        return None
    return state.settings.time_zone


def may_take_available_below_zero(event_type: str) -> bool:
    """A refund under a program that allows it, or an imported history, records a negative
    balance explicitly; any other event taking available below zero is a fault."""
    return event_type in _MAY_GO_NEGATIVE


_NOT_FOLDABLE = (UnknownEventType, KeyError, TypeError, ValueError, AssertionError)
"""What decoding or folding a stored event raises on data it cannot take (orjson's decode
error is a ValueError; check_invariants asserts)."""


class _KindFold:
    """Any kind of stream, folded by the kind the domain registered for it."""

    __slots__ = ("_kind", "balances", "event", "state")

    def __init__(self, kind: Kind[Any]) -> None:
        self._kind = kind
        self.state = kind.initial()
        self.event: Event | None = None
        # Only accounts have balances of their own; other kinds store zeros beside events.
        self.balances: Balances | None = kind.balances(self.state) if kind is ACCOUNT else None

    def fold(self, row: EventRow) -> Balances | None:
        kind = self._kind
        try:
            event = event_codec.decode(
                row.event_type, row.schema_version, orjson.loads(row.data_text)
            )
            state = kind.evolve(self.state, event)
            kind.check_invariants(state)
        except _NOT_FOLDABLE as error:
            raise Unreplayable(f"{type(error).__name__}: {error}") from error
        self.state, self.event = state, event
        if self.balances is None:
            return None
        self.balances = balances = kind.balances(state)
        return balances


class _NoKind:
    """A stream whose id no kind spells: none of its events folds."""

    __slots__ = ("_why", "balances", "event", "state")

    def __init__(self, why: str) -> None:
        self._why = why
        self.state: Any = None
        self.event: Event | None = None
        self.balances: Balances | None = None

    def fold(self, row: EventRow) -> Balances | None:
        raise Unreplayable(self._why)
