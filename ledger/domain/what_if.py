"""What a recorded purchase or action would have earned under other settings (a proposed
program revision), by the same rules decide applies, for finance's what-if replay
(ledger/audit/what_if.py). Nothing here appends: it answers points only.

The member's state is the one recorded before the event: caps count the actions recorded,
and a purchase's tier multiplier is the tier the member held then (tier moves are not
simulated).
"""

from dataclasses import replace
from datetime import datetime

from ledger.domain import limits, tiers
from ledger.domain.account import AccountState
from ledger.domain.actions import record_action
from ledger.domain.commands import RecordAction
from ledger.domain.earning import purchase_earning
from ledger.domain.errors import FailedPrecondition
from ledger.domain.events import ActionRecorded, PurchaseRecorded
from ledger.domain.program import ProgramState


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
