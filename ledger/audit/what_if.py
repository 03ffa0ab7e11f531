"""What-if replay: a program's recorded history of a period [start, end) rerun under a
proposed program revision, writing nothing; per member and in total, the points recorded
against the points the revision would have given, per kind (purchases, actions, milestones,
referral credits, refunds, expiry), the tiers, and what the difference is worth at the
program's point values.

It rides on the audit's replay (ledger/audit/replay.py: one exported snapshot, key ranges,
the chains verified on the way), as one accumulator; memory holds one line of figures per
member who had an event in the period, and the one member being rerun (its shadow account
and its orders), never the events. The rerun is the domain's (ledger/domain/what_if.py):
each recorded command decided again by `decide` on a shadow of the member's account.
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from functools import partial
from typing import Self

from ledger.audit.fold import Unreplayable, new_fold, program_stream_id
from ledger.audit.liability import NANOS_PER_UNIT
from ledger.audit.program_calendar import spell
from ledger.audit.replay import replay
from ledger.audit.report import AccumulatorFactory, ReplayedStream
from ledger.domain.account import AccountState
from ledger.domain.clock import parse_instant
from ledger.domain.decide import housekeeping
from ledger.domain.errors import NotFound, Violations
from ledger.domain.events import TierChanged
from ledger.domain.orders import Order, evolve_order, order_id_of
from ledger.domain.program import ProgramState
from ledger.domain.settings import ProgramSettings
from ledger.domain.what_if import KINDS, Rerun, due_by, points_of
from ledger.store.audit_reader import EventRow, ExportedSnapshot

__all__ = ["KINDS", "Figures", "Proposal", "TierLine", "WhatIfReport", "what_if"]

Proposal = ProgramSettings | int
"""Proposed settings, or the number of one of the program's own revisions to rerun under."""
Moment = date | datetime
"""An instant (with its offset), or a day: its start in the program's time zone."""


@dataclass(frozen=True)
class Plan:
    program_id: str
    proposed: ProgramState
    start: str
    """First instant of the period, spelled as the log's recorded_at (UTC)."""
    end: str
    """First instant after the period."""
    point_values: tuple[tuple[str, int], ...]
    """The program's current point values: currency -> nanos of its major unit per point."""


@dataclass(frozen=True)
class Figures:
    """Points recorded and points the revision would have given, per kind, in KINDS order."""

    recorded: tuple[int, ...]
    simulated: tuple[int, ...]

    @property
    def recorded_total(self) -> int:
        return sum(self.recorded)

    @property
    def simulated_total(self) -> int:
        return sum(self.simulated)

    @property
    def difference(self) -> int:
        return self.simulated_total - self.recorded_total

    def by_kind(self) -> dict[str, tuple[int, int]]:
        return {
            kind: (self.recorded[index], self.simulated[index]) for index, kind in enumerate(KINDS)
        }


class WhatIfFigures:
    """The accumulator (of events and of streams): per member key, [recorded, simulated] per
    kind, flat. A stream is read whole by one worker, in order: its member's rerun lives
    from its first event in the period to the stream's end."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.members: dict[str, list[int]] = {}
        self.tiers: dict[str, TierLine] = {}
        """Per member key of a program with tiers (recorded or proposed)."""
        self.events = 0
        """The period's recorded events of the program's accounts, each rerun."""
        self._stream: tuple[str, str] | None = None
        self._before: AccountState = AccountState()
        self._orders: dict[str, Order] = {}
        """The stream's orders recorded before the period, for refunds in it."""
        self._rerun: Rerun | None = None
        """The stream's member under the proposal, from its first event in the period."""
        self._last: AccountState = AccountState()
        """The stream's recorded state after its last event in the period."""

    def add_event(self, stream: ReplayedStream, row: EventRow) -> None:
        key = (stream.program_id, stream.stream_id)
        if key != self._stream:
            self._stream, self._before, self._rerun = key, AccountState(), None
            self._orders = {}
        before = self._before
        state = stream.fold.state
        if not isinstance(state, AccountState):
            return  # the program's own stream, a reward's stock
        self._before = state
        plan = self.plan
        if stream.program_id != plan.program_id or row.recorded_at >= plan.end:
            return
        event = stream.fold.event
        assert event is not None
        if row.recorded_at < plan.start:
            order_id = order_id_of(event)
            if order_id is not None:
                order = evolve_order(self._orders.get(order_id), event)
                assert order is not None
                self._orders[order_id] = order
            return
        member = stream.stream_id
        rerun = self._rerun
        if rerun is None:
            rerun = self._rerun = Rerun(before, self._orders, member)
        line = self._line(member)
        recorded = points_of(event)
        if recorded is not None:
            line[2 * recorded[0]] += recorded[1]
        rerun.rerun(plan.proposed, event, parse_instant(row.recorded_at))  # C, not strptime
        self._last = state
        self.events += 1
        if state.tier is None and rerun.state.tier is None:
            return
        tier = self.tiers.get(member)
        if tier is None:
            tier = self.tiers[member] = TierLine()
        tier.recorded = "" if state.tier is None else state.tier.tier
        tier.proposed = "" if rerun.state.tier is None else rerun.state.tier.tier
        tier.proposed_moves = rerun.tier_moves
        if isinstance(event, TierChanged) and event.from_tier != event.to_tier:
            tier.recorded_moves += 1

    def add_stream(self, stream: ReplayedStream) -> None:
        """The period's end: what is due by then, on the recorded account and on the rerun,
        whether the sweep had appended it yet or not."""
        rerun = self._rerun
        if rerun is None or self._stream != (stream.program_id, stream.stream_id):
            return
        self._rerun = None
        end = parse_instant(self.plan.end)
        line = self._line(stream.stream_id)
        for event in housekeeping(self._last, due_by(end)):
            recorded = points_of(event)
            if recorded is not None:
                line[2 * recorded[0]] += recorded[1]
        rerun.finish(self.plan.proposed, end)
        for kind, points in enumerate(rerun.points):
            line[2 * kind + 1] += points

    def _line(self, member: str) -> list[int]:
        line = self.members.get(member)
        if line is None:
            line = self.members[member] = [0] * (2 * len(KINDS))
        return line

    def merge(self, other: Self) -> None:
        self.events += other.events
        for member, theirs in other.members.items():
            mine = self.members.setdefault(member, [0] * (2 * len(KINDS)))
            for index, value in enumerate(theirs):
                mine[index] += value
        # A stream is read whole by one worker: its member's tier line is in one part only.
        self.tiers.update(other.tiers)


class TierLine:
    """A member's tier at its last event of the period and its tier moves (changes of tier,
    not renewals) in the period: recorded, and under the proposal."""

    __slots__ = ("proposed", "proposed_moves", "recorded", "recorded_moves")

    def __init__(self) -> None:
        self.recorded = ""
        self.proposed = ""
        self.recorded_moves = 0
        self.proposed_moves = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TierLine) and self.as_tuple() == other.as_tuple()

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        return f"TierLine{self.as_tuple()}"

    def as_tuple(self) -> tuple[str, str, int, int]:
        return (self.recorded, self.proposed, self.recorded_moves, self.proposed_moves)


@dataclass(frozen=True)
class WhatIfReport:
    program_id: str
    start: str
    """The period's first instant (UTC, as the log spells recorded_at)."""
    end: str
    """The first instant after the period."""
    proposed_revision: int | None
    """The program's revision rerun under, or None for proposed settings."""
    events: int
    total: Figures
    members: tuple[tuple[str, Figures], ...]
    """Per member key (the log's pseudonymous stream id), in key order."""
    point_values: tuple[tuple[str, int], ...]
    """The program's current point values: currency -> nanos of its major unit per point."""
    tiers: tuple[tuple[str, "TierLine"], ...] = ()
    """Per member key, of members with a tier recorded or proposed, in key order."""

    def tier_moves(self) -> tuple[int, int]:
        """Changes of tier in the period (renewals are none): recorded, proposed."""
        return (
            sum(line.recorded_moves for _, line in self.tiers),
            sum(line.proposed_moves for _, line in self.tiers),
        )

    def members_per_tier(self) -> dict[str, tuple[int, int]]:
        """Per tier ("" below the lowest), the members in it at their last event of the
        period: recorded, proposed."""
        counts: dict[str, tuple[int, int]] = {}
        for _, line in self.tiers:
            recorded = counts.get(line.recorded, (0, 0))
            counts[line.recorded] = (recorded[0] + 1, recorded[1])
            proposed = counts.get(line.proposed, (0, 0))
            counts[line.proposed] = (proposed[0], proposed[1] + 1)
        return dict(sorted(counts.items()))

    def liability_difference(self) -> dict[str, Decimal]:
        """What the points the revision would have given beyond those recorded are worth per
        currency (negative: fewer), were none of them redeemed or expired."""
        return {
            currency: self.total.difference * nanos / NANOS_PER_UNIT
            for currency, nanos in self.point_values
        }


def what_if(
    conninfo: str,
    program_id: str,
    proposal: Proposal,
    start: Moment,
    end: Moment,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    pause_collector: bool = True,
) -> WhatIfReport:
    """Reruns the program's purchases and actions recorded in [start, end) under `proposal`.
    Raises InvalidArgument for bad settings (every bad one named) or a period that is empty
    or an instant without its offset, and NotFound for a program the log does not hold or a
    revision it does not have. `progress`, `stop` and `pause_collector` are the replay's
    (ledger/audit/replay.py): a server runs it in a thread, stoppable, with one worker."""
    violations = Violations()
    if isinstance(proposal, ProgramSettings):
        proposal.validate(violations)
    for name, moment in (("from", start), ("to", end)):
        if isinstance(moment, datetime) and moment.tzinfo is None:
            violations.add(name, "an instant needs its offset (Z or +hh:mm)")
    violations.raise_if_any()
    result = replay(
        conninfo,
        program_id,
        workers=workers,
        planned=partial(_plan, program_id, proposal, start, end),
        progress=progress,
        stop=stop,
        pause_collector=pause_collector,
    )
    figures = result.get(WhatIfFigures)
    # A member with tier events in the period and no purchase nor action earns nothing.
    for member in figures.tiers:
        figures.members.setdefault(member, [0] * (2 * len(KINDS)))
    members = tuple((member, _figures(line)) for member, line in sorted(figures.members.items()))
    kinds = range(len(KINDS))
    recorded = tuple(sum(each.recorded[index] for _, each in members) for index in kinds)
    simulated = tuple(sum(each.simulated[index] for _, each in members) for index in kinds)
    plan = figures.plan
    return WhatIfReport(
        program_id,
        plan.start,
        plan.end,
        plan.proposed.revision if isinstance(proposal, int) else None,
        figures.events,
        Figures(recorded, simulated),
        members,
        plan.point_values,
        tuple(sorted(figures.tiers.items())),
    )


def _figures(line: list[int]) -> Figures:
    return Figures(tuple(line[0::2]), tuple(line[1::2]))


def _plan(
    program_id: str,
    proposal: Proposal,
    start: Moment,
    end: Moment,
    snapshot: ExportedSnapshot,
) -> Iterable[AccumulatorFactory]:
    revisions = _revisions(snapshot.program_stream_events(program_id, program_stream_id()))
    if not revisions:
        raise NotFound(
            f"no such program: {program_id!r}", field_name="program", reason="PROGRAM_NOT_FOUND"
        )
    current = revisions[-1]
    values = tuple(
        sorted((value.currency_code, value.nanos_per_point) for value in current.point_values)
    )
    if isinstance(proposal, int):
        if not 1 <= proposal <= len(revisions):
            raise NotFound(
                f"the program is at revision {len(revisions)}",
                field_name="revision",
                reason="REVISION_NOT_FOUND",
            )
        proposed = ProgramState(proposal, program_id, revisions[proposal - 1])
    else:
        proposed = ProgramState(len(revisions) + 1, program_id, proposal)
    zone = current.zone
    first, after = _instant(start, zone), _instant(end, zone)
    if after <= first:
        violations = Violations()
        violations.add("to", f"the period must end after it starts ({first})")
        violations.raise_if_any()
    plan = Plan(program_id, proposed, first, after, values)
    return [partial(WhatIfFigures, plan)]


def _instant(moment: Moment, zone: tzinfo) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(), zone)
    return spell(moment)


def _revisions(rows: list[EventRow]) -> list[ProgramSettings]:
    """Each revision's settings, folded by the domain; the replay reports a row that does not
    fold, so the revisions stop before it."""
    if not rows:
        return []
    fold = new_fold(rows[0].stream_id)
    settings: list[ProgramSettings] = []
    for row in rows:
        try:
            fold.fold(row)
        except Unreplayable:
            break  # the replay reports it, naming the event
        assert isinstance(fold.state, ProgramState)
        settings.append(fold.state.settings)
    return settings
