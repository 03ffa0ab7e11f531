"""The kinds of stream the log holds, and the keys that name them.

A stream is keyed by (program_id, stream_id). Each kind registers what the ledger needs to
keep one of its streams without knowing what is inside: its empty state, `evolve`, the
balances the log stores beside each of its events, when the sweep is next due on it, and its
invariants. The snapshot codec of each kind lives with the other stored bytes
(ledger/codec/snapshots.py), keyed by the kind's name.

Stream ids are spelled here and only here: an account's stream id is its member's
pseudonymous key ('~' and 26 random base32 characters; for a member enrolled before keys
existed, the member id itself, see ledger/members.py); streams of every other kind have ids
starting with '$', which neither can hold.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ledger.domain import account, program, rewards
from ledger.domain.account import AccountState, Balances
from ledger.domain.decide import next_due_at
from ledger.domain.events import Event
from ledger.domain.program import ProgramState

StreamKey = tuple[str, str]
"""(program_id, stream_id)"""

OTHER_KINDS_PREFIX = "$"
"""Every stream id of a kind other than account starts with it (member ids cannot)."""
_PROGRAM_STREAM_ID = f"{OTHER_KINDS_PREFIX}program"

_State = TypeVar("_State")

NO_BALANCES = Balances()


@dataclass(frozen=True)
class Kind(Generic[_State]):
    name: str
    initial: Callable[[], _State]
    evolve: Callable[[_State, Event], _State]
    balances: Callable[[_State], Balances]
    """What the log stores as `balances_after` of each event (zero outside accounts)."""
    next_due_at: Callable[[_State], str | None]
    """When the sweep next has something to append to the stream (None: never)."""
    check_invariants: Callable[[_State], None]
    read_by_others: bool
    """Decisions on other streams read it without appending to it, so a stale copy is not
    caught by the append's version check: a cached copy must be re-read now and then."""


def _account_balances(state: AccountState) -> Balances:
    return state.balances


def _never_due(_state: Any) -> None:
    return None


def _no_balances(_state: Any) -> Balances:
    return NO_BALANCES


ACCOUNT: Kind[AccountState] = Kind(
    name="account",
    initial=AccountState,
    evolve=account.evolve,
    balances=_account_balances,
    next_due_at=next_due_at,
    check_invariants=AccountState.check_invariants,
    read_by_others=False,
)

PROGRAM: Kind[ProgramState] = Kind(
    name="program",
    initial=ProgramState,
    evolve=program.evolve,
    balances=_no_balances,
    next_due_at=_never_due,
    check_invariants=program.check_invariants,
    read_by_others=True,
)

REWARD_STOCK: Kind[rewards.StockState] = Kind(
    name="reward_stock",
    initial=rewards.StockState,
    evolve=rewards.evolve_stock,
    balances=_no_balances,
    # Lapsed unit holds are free by their time alone; nothing is ever due.
    next_due_at=_never_due,
    check_invariants=rewards.StockState.check_invariants,
    # A refusal (out of stock) reads it without appending, so nothing would ever tell this
    # process that another one gave a unit back: re-read like a program's settings.
    read_by_others=True,
)

KINDS: tuple[Kind[Any], ...] = (ACCOUNT, PROGRAM, REWARD_STOCK)
_REWARD_STOCK_PREFIX = f"{OTHER_KINDS_PREFIX}reward/"


def program_key(program_id: str) -> StreamKey:
    return (program_id, _PROGRAM_STREAM_ID)


def reward_stock_key(program_id: str, reward_id: str) -> StreamKey:
    """The stream of a limited reward's stock (ledger/domain/rewards.py)."""
    return (program_id, f"{_REWARD_STOCK_PREFIX}{reward_id}")


def account_key(program_id: str, member_key: str) -> StreamKey:
    assert not member_key.startswith(OTHER_KINDS_PREFIX), member_key
    return (program_id, member_key)


def kind_of(stream_id: str) -> Kind[Any]:
    """The kind of a stream; ValueError for an id no kind spells (damage, or a newer writer)."""
    if not stream_id.startswith(OTHER_KINDS_PREFIX):
        return ACCOUNT
    if stream_id == _PROGRAM_STREAM_ID:
        return PROGRAM
    if stream_id.startswith(_REWARD_STOCK_PREFIX) and len(stream_id) > len(_REWARD_STOCK_PREFIX):
        return REWARD_STOCK
    raise ValueError(f"no kind of stream is spelled {stream_id!r}")


def member_of(stream_id: str) -> str | None:
    """The key of the member whose account the stream is, or None for a stream of another
    kind."""
    return None if stream_id.startswith(OTHER_KINDS_PREFIX) else stream_id
