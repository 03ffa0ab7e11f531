"""What a recorded purchase or action would have earned under other settings (a proposed
program revision), by the same rules decide applies, for finance's what-if replay
(ledger/audit/what_if.py). Nothing here appends: it answers points only.

The member's state is the one recorded before the event: caps count the actions recorded.
Its tier is the one the proposal's rules give it through the period (TierRun), from the one
recorded at the period's start.
"""

from dataclasses import replace
from datetime import datetime

from ledger.domain import limits, tiers
from ledger.domain.account import AccountState
from ledger.domain.actions import record_action
from ledger.domain.commands import RecordAction
from ledger.domain.earning import purchase_earning
from ledger.domain.errors import FailedPrecondition
from ledger.domain.events import (
    ActionRecorded,
    Event,
    PurchaseRecorded,
    TierChanged,
    TierPeriodStarted,
)
from ledger.domain.program import ProgramState
from ledger.domain.tier_state import TierStatus, evolve_tier


def purchase_points(program: ProgramState, before: AccountState, recorded: PurchaseRecorded) -> int:
    """The points `recorded`'s order would have earned under `program`: 0 where its currency
    has no earn rate there, or where it would earn more than one command may (decide refuses
    both, so the purchase would have earned nothing)."""
    rate = program.settings.rate_for(recorded.currency_code)
    if rate is None:
        return 0
    earning = purchase_earning(
        program.settings,
        rate,
        recorded.currency_code,
        recorded.currency_exponent,
        recorded.amount_minor,
        recorded.lines,
    )
    if earning.points > limits.MAX_POINTS_PER_COMMAND:
        return 0
    simulated = replace(recorded, points=earning.points, rules=earning.rules)
    if before.tier is not None:
        simulated = tiers.multiplied(simulated, before.tier)
    return simulated.points


def action_points(
    program: ProgramState, before: AccountState, recorded: ActionRecorded, now: datetime
) -> int:
    """The points `recorded`'s action would have given under `program` at `now` (when it was
    recorded): 0 for an action the program does not define (decide refuses it)."""
    command = RecordAction(action_id=recorded.action_id, reference=recorded.reference)
    try:
        return record_action(before, program, command, now).points
    except FailedPrecondition:
        return 0


class TierRun:
    """One member's tier under the proposal, through the period: started from the recorded
    status at the member's first event of the period, then moved only by the proposal's rules
    (the recorded tier events are the recorded rules', so they are left out, but an admin's
    manual change is kept). Tier moves are changes of tier, renewals are not."""

    __slots__ = ("moves", "status")

    def __init__(self, status: TierStatus | None) -> None:
        self.status = status
        self.moves = 0

    @property
    def tier(self) -> str:
        return "" if self.status is None else self.status.tier

    def purchase(
        self, program: ProgramState, before: AccountState, recorded: PurchaseRecorded, now: datetime
    ) -> int:
        """The purchase's points under `program` at the member's simulated tier."""
        if self._untiered(program):
            return purchase_points(program, before, recorded)
        state = self._due(program, before, now)
        points = purchase_points(program, state, recorded)
        self._earned(program, state, replace(recorded, points=points), now)
        return points

    def action(
        self, program: ProgramState, before: AccountState, recorded: ActionRecorded, now: datetime
    ) -> int:
        if self._untiered(program):
            return action_points(program, before, recorded, now)
        state = self._due(program, before, now)
        points = action_points(program, state, recorded, now)
        self._earned(program, state, replace(recorded, points=points), now)
        return points

    def other(
        self, program: ProgramState, before: AccountState, recorded: Event, now: datetime
    ) -> None:
        """Any other recorded event: its share of the qualifying figure (a bonus, a refund)."""
        if self._untiered(program):
            return
        self._due(program, before, now)
        match recorded:
            case TierChanged(reason=tiers.MANUAL):
                self._apply(recorded)
            case TierChanged() | TierPeriodStarted():
                pass
            case _:
                self._apply(recorded)

    def _untiered(self, program: ProgramState) -> bool:
        # Most programs: no tier recorded nor proposed, nothing to rerun but the points.
        return self.status is None and not program.settings.tiers.levels

    def _due(self, program: ProgramState, before: AccountState, now: datetime) -> AccountState:
        """What the proposal's rules do before a command at `now` (a new period, a review,
        its own tiers applied) and the member's state with the simulated status."""
        state = _with_tier(before, self.status)
        if before.forgotten:
            return state
        due = tiers.before_command(state, program, now)
        for event in due:
            self._apply(event)
        return _with_tier(before, self.status) if due else state

    def _earned(
        self, program: ProgramState, state: AccountState, simulated: Event, now: datetime
    ) -> None:
        upgrade = tiers.upgraded(state, [simulated], program, now)
        self._apply(simulated)
        for event in upgrade:
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if self.status is None and not isinstance(event, TierPeriodStarted):
            return  # no tier figure to count into
        if isinstance(event, TierChanged) and event.from_tier != event.to_tier:
            self.moves += 1
        self.status = evolve_tier(self.status, event)


def _with_tier(state: AccountState, status: TierStatus | None) -> AccountState:
    # Most programs have no tiers: the state is then taken as it is, not copied per event.
    return state if state.tier is status else replace(state, tier=status)
