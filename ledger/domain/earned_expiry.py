"""When points earned now expire: the one place the earns of actions, bonuses and milestones
ask, so they follow the program's expiry policy as every other earn does."""

from datetime import datetime

from ledger.domain.expiry import points_expire_at
from ledger.domain.program import ProgramState


def expiry_of_points_earned(program: ProgramState, now: datetime) -> str | None:
    return points_expire_at(program.settings, now)
