"""Inactivity expiry: the whole available balance expires after the program's
`inactivity_expiry_days` without a qualifying activity.

The deadline is a decision recorded in the log (InactivityExpiryScheduled, appended with the
activity that moved it), never recomputed on replay: an account's events carry no time of
their own, and the policy may change after the activity.
"""

from collections.abc import Sequence
from datetime import datetime

from ledger.domain import lots as lot_math
from ledger.domain.account import AccountState
from ledger.domain.activity import activity_of
from ledger.domain.events import Event, InactiveBalanceExpired, InactivityExpiryScheduled
from ledger.domain.expiry import balance_expires_at
from ledger.domain.program import ProgramState


def rescheduled(
    state: AccountState,
    program: ProgramState,
    events: Sequence[Event],
    now: datetime,
    *,
    enrolling: bool = False,
) -> list[Event]:
    """The deadline `events` (decided at `now`) move, if they move it: a qualifying activity
    (or the enrolment, where the member's inactivity starts) sets it from `now`; a program
    without inactivity expiry drops one set before."""
    settings = program.settings
    if settings.inactivity_expiry_days == 0:
        if state.balance_expires_at is None:
            return []
        deadline = None
    elif enrolling or any(activity_of(event) in settings.qualifying_activities for event in events):
        deadline = balance_expires_at(settings, now)
    else:
        return []
    if deadline == state.balance_expires_at:
        return []
    return [InactivityExpiryScheduled(deadline, program.revision)]


def expired(state: AccountState, current: str, program: ProgramState | None) -> list[Event]:
    """The balance left in the lots, expired when the deadline has come by the instant
    `current` (nothing for a zero or negative balance: there is nothing to expire). Not under
    a program that has dropped inactivity expiry since the deadline was set."""
    deadline = state.balance_expires_at
    if deadline is None or deadline > current or not state.lots:
        return []
    if program is not None and program.settings.inactivity_expiry_days == 0:
        return []
    return [InactiveBalanceExpired(deadline, lot_math.total(state.lots), state.lots)]


def due_at(state: AccountState) -> str | None:
    """When `expired` would expire something, if ever."""
    return state.balance_expires_at if state.lots else None
