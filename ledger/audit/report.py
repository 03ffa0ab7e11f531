"""What an audit finds, gathered by accumulators: each worker fills its own, and the
coordinator merges them, so a report reads the same whatever the number of workers.

An accumulator takes what it needs per event (EventAccumulator) or per stream
(StreamAccumulator), merges another of its kind, and pickles (a worker's travels back to the
coordinator). The counts, the discrepancies and the recomputed balances are accumulators; a
finance report adds its own the same way (`replay(..., accumulators=[...])`).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar, runtime_checkable

from ledger.audit.fold import Balances, StreamFold
from ledger.store.audit_reader import EventRow

MAX_REPORTED = 1_000
"""Discrepancies kept in the report; the count goes on beyond it."""


@dataclass(frozen=True)
class Discrepancy:
    program_id: str
    stream_id: str
    version: int
    event_id: str
    """Empty where no single event is at fault (a state row, a missing one)."""
    kind: str
    detail: str


class ReplayedStream(Protocol):
    """A stream as the replay holds it, for accumulators to read (never to change)."""

    @property
    def program_id(self) -> str: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def version(self) -> int:
        """The version of the last event read."""
        ...

    @property
    def events(self) -> int:
        """Events read so far."""
        ...

    @property
    def fold(self) -> StreamFold:
        """The state folded so far, the last event folded and the balances after it."""
        ...

    @property
    def broken(self) -> bool:
        """A chain or decoding break: the fold stopped before it."""
        ...


class Accumulator(Protocol):
    def merge(self, other: Self) -> None:
        """Adds what `other`, filled by another worker, found."""
        ...


@runtime_checkable
class EventAccumulator(Accumulator, Protocol):
    def add_event(self, stream: ReplayedStream, row: EventRow) -> None:
        """`row` has just folded into `stream` (its chain intact, its invariants checked). Not
        called for the events of a stream past a break."""
        ...


@runtime_checkable
class StreamAccumulator(Accumulator, Protocol):
    def add_stream(self, stream: ReplayedStream) -> None:
        """`stream` has been read to its end and checked against its state row."""
        ...


AccumulatorFactory = Callable[[], Accumulator]
"""Makes an empty accumulator; each worker calls it once. Picklable: a class, or a
functools.partial of one, at module level."""


class Counts:
    def __init__(self) -> None:
        self.streams = 0
        self.events = 0

    def add_stream(self, stream: ReplayedStream) -> None:
        self.streams += 1
        self.events += stream.events

    def merge(self, other: Self) -> None:
        self.streams += other.streams
        self.events += other.events


class Discrepancies:
    """Every discrepancy counted; the first MAX_REPORTED kept, in the order found. Merged,
    they are sorted by stream and version, so a report reads the same on every run whichever
    worker took which range."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: list[Discrepancy] = []

    def add(self, found: Discrepancy) -> None:
        self.count += 1
        if len(self.kept) < MAX_REPORTED:
            self.kept.append(found)

    def merge(self, other: Self) -> None:
        self.count += other.count
        # Python's sort is stable: the discrepancies of one stream and version stay in the
        # order they were found.
        self.kept = sorted(
            self.kept + other.kept,
            key=lambda found: (found.program_id, found.stream_id, found.version),
        )[:MAX_REPORTED]


class FinalBalances:
    """Each account's balances recomputed from its events (up to a break, if any)."""

    def __init__(self) -> None:
        self.balances: dict[tuple[str, str], Balances] = {}

    def add_stream(self, stream: ReplayedStream) -> None:
        balances = stream.fold.balances
        if balances is not None:
            self.balances[stream.program_id, stream.stream_id] = balances

    def merge(self, other: Self) -> None:
        self.balances.update(other.balances)


_Kind = TypeVar("_Kind", bound=Accumulator)


class Report:
    """The built-in accumulators and any others given, in the order given."""

    def __init__(self, factories: Iterable[AccumulatorFactory] = ()) -> None:
        self.counts = Counts()
        self.found = Discrepancies()
        self.accumulators: tuple[Accumulator, ...] = (
            self.counts,
            self.found,
            *(make() for make in factories),
        )

    def event_accumulators(self) -> Sequence[EventAccumulator]:
        return [each for each in self.accumulators if isinstance(each, EventAccumulator)]

    def stream_accumulators(self) -> Sequence[StreamAccumulator]:
        return [each for each in self.accumulators if isinstance(each, StreamAccumulator)]

    def merge(self, other: "Report") -> None:
        assert [type(each) for each in self.accumulators] == [
            type(each) for each in other.accumulators
        ]
        for mine, theirs in zip(self.accumulators, other.accumulators, strict=True):
            mine.merge(theirs)

    def get(self, kind: type[_Kind]) -> _Kind:
        """The report's accumulator of this kind (the first, if several)."""
        for each in self.accumulators:
            if isinstance(each, kind):
                return each
        raise LookupError(kind.__name__)

    # --- what callers of the audit read -----------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.found.count == 0

    @property
    def streams(self) -> int:
        return self.counts.streams

    @property
    def events(self) -> int:
        return self.counts.events

    @property
    def discrepancy_count(self) -> int:
        return self.found.count

    @property
    def discrepancies(self) -> list[Discrepancy]:
        return self.found.kept

    @property
    def final_balances(self) -> dict[tuple[str, str], Balances]:
        """Recomputed balances per account stream; empty unless the replay kept them."""
        for each in self.accumulators:
            if isinstance(each, FinalBalances):
                return each.balances
        return {}
