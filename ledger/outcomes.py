"""What a command returns to its caller, stored with its request id so a retry gets the very
same answer back (ledger/codec/responses.py writes and reads it)."""

from dataclasses import dataclass, field

from ledger.domain import inactivity
from ledger.domain.account import AccountState, Balances
from ledger.domain.events import LotPortion
from ledger.domain.frozen import build
from ledger.domain.program import ProgramState
from ledger.domain.results import Result
from ledger.domain.tier_state import TierView, view_of

MAX_EXPIRING_LISTED = 10


@dataclass(frozen=True)
class AccountView:
    program_id: str
    member_id: str
    """The caller's member id in what the ledger answers; the member's pseudonymous key in
    what it stores (the stored answer of a request) and below its translation."""
    version: int
    balances: Balances
    expiring: tuple[LotPortion, ...]
    referral_code: str
    created_at: str
    balance_expires_at: str | None = None
    """When the whole balance expires if the member stays inactive (None: no inactivity
    expiry, or nothing to expire)."""
    tier: TierView | None = None
    """The member's tier, benefits and figure (None: never under a program with tiers)."""

    @classmethod
    def of(
        cls, program_id: str, member: str, state: AccountState, version: int, created_at: str
    ) -> "AccountView":
        expiring = tuple(p for p in state.lots if p.expires_on is not None)
        # Built for every command answered: the frozen __init__'s setattr per field is most
        # of its cost.
        return build(
            cls,
            program_id=program_id,
            member_id=member,
            version=version,
            balances=state.balances,
            expiring=expiring[:MAX_EXPIRING_LISTED],
            referral_code=state.referral_code,
            created_at=created_at,
            balance_expires_at=inactivity.due_at(state),
            tier=None if state.tier is None else view_of(state.tier),
        )


@dataclass(frozen=True)
class ProgramView:
    state: ProgramState
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Outcome:
    """A command's answer: its typed result and the streams it touched, right after."""

    result: Result
    accounts: dict[str, AccountView]
    """Keyed by member id (by member key below the ledger's translation)."""
    program: ProgramView | None = None
    appended: int = field(default=0, compare=False)
    """Events this execution appended (0 for an answer given again to a retry): not part of
    the answer, nor stored with it."""
