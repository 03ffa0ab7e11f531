"""RecordAction and GrantBonus: points for what a member does beside buying.

A recorded action never fails the caller's flow once the program defines it: a cap answers
OK with the points it left (possibly 0) and why. An action id the program does not define is
refused (FAILED_PRECONDITION, ACTION_NOT_DEFINED, naming action_id): the storefront asked for
a rule that does not exist, which a person has to fix, and nothing is appended.
"""

from datetime import datetime

from ledger.domain.account import AccountState
from ledger.domain.action_counts import ActionCounts, period_keys
from ledger.domain.action_settings import RewardedAction
from ledger.domain.commands import GrantBonus, RecordAction
from ledger.domain.earned_expiry import expiry_of_points_earned
from ledger.domain.errors import FailedPrecondition
from ledger.domain.events import ActionRecorded, BonusGranted
from ledger.domain.program import ProgramState

REWARDED = "rewarded"
CAP_REACHED = "cap_reached"
NOT_REWARDED = "not_rewarded"


def record_action(
    state: AccountState, program: ProgramState, command: RecordAction, now: datetime
) -> ActionRecorded:
    action = _defined(program, command.action_id)
    keys = period_keys(now, program.settings.zone)
    counts = state.action_counts.get(action.action_id, ActionCounts())
    points, capped_by = action.points, ""
    for cap in action.caps:
        count = counts.count_in(cap.period, keys)
        left = points
        if cap.max_times and count.times >= cap.max_times:
            left = 0
        if cap.max_points:
            left = min(left, max(cap.max_points - count.points, 0))
        if left < points:
            # The tightest cap names the answer; the first one listed wins a tie.
            points, capped_by = left, cap.period.value
    if action.points == 0:
        outcome = NOT_REWARDED
    elif capped_by:
        outcome = CAP_REACHED
    else:
        outcome = REWARDED
    return ActionRecorded(
        action_id=action.action_id,
        reference=command.reference,
        points=points,
        rule_points=action.points,
        outcome=outcome,
        capped_by=capped_by,
        expires_on=expiry_of_points_earned(program, now) if points else None,
        program_revision=program.revision,
        day=keys.day,
        week=keys.week,
        month=keys.month,
        year=keys.year,
    )


def _defined(program: ProgramState, action_id: str) -> RewardedAction:
    for action in program.settings.actions:
        if action.action_id == action_id:
            return action
    raise FailedPrecondition(
        f"the program does not define the action {action_id!r}",
        reason="ACTION_NOT_DEFINED",
        field="action_id",
        action_id=action_id,
    )


def grant_bonus(program: ProgramState, command: GrantBonus, now: datetime) -> BonusGranted:
    return BonusGranted(
        points=command.points,
        reason_code=command.reason_code,
        note=command.note,
        actor=command.actor,
        expires_on=expiry_of_points_earned(program, now),
        program_revision=program.revision,
    )
