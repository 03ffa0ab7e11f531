"""Every decision, whatever the streams it reads and writes, through one interface.

The ledger asks `reads` which streams (and which orders) a command needs, loads them all in
one round trip, and calls `decide` with them. The answer is a Decision: the events for each
stream, appended together in one transaction or not at all, and the typed result the caller
gets back. A decision may read a stream without appending to it (an account command reads its
program) and may append to several (a transfer; a referral credit next).
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ledger.domain import decide as accounts
from ledger.domain import program as programs
from ledger.domain import referrals
from ledger.domain.account import AccountState, evolve
from ledger.domain.commands import (
    CancelReservation,
    Command,
    CommitReservation,
    CreateProgram,
    Enroll,
    ForgetMember,
    RecordPurchase,
    RedeemReward,
    RefundPurchase,
    ReservePoints,
    TransferPoints,
    UpdateProgram,
)
from ledger.domain.events import Event
from ledger.domain.kinds import StreamKey, account_key, program_key, reward_stock_key
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.results import DONE, Result
from ledger.domain.rewards import StockState

OrderKey = tuple[StreamKey, str]
"""An order of an account stream: (stream key, order id)."""


@dataclass(frozen=True)
class Target:
    """Whom a command is addressed to: a program, or a member's account in it.

    Below the application's translation (ledger/members.py), `member_id` (and every member id
    field of a command) holds the member's pseudonymous key, never the id the brand uses: the
    names stay because the request content hash covers them (ledger/codec/requests.py)."""

    program_id: str
    member_id: str | None = None

    @functools.cached_property
    def stream(self) -> StreamKey:
        """The stream the command is addressed to (asked for several times per command)."""
        if self.member_id is None:
            return program_key(self.program_id)
        return account_key(self.program_id, self.member_id)


@dataclass(frozen=True)
class Reads:
    streams: tuple[StreamKey, ...]
    orders: tuple[OrderKey, ...] = ()
    new_order: bool = False
    """The command records its order (a purchase): the order is expected not to exist yet.
    An event log refuses a second purchase of one order, like a version it already holds, so
    a ledger may decide such a command without reading the order and decide it again, after
    reading it, only if the append is refused."""


@dataclass(frozen=True)
class Decision:
    appends: tuple[tuple[StreamKey, Sequence[Event]], ...]
    """Events per stream, in the order they are appended."""
    result: Result
    erases: tuple[StreamKey, ...] = ()
    """Account streams whose member's link (id -> key) and stored answers are deleted in the
    same transaction as the appends (ForgetMember)."""


class Streams(Protocol):
    """The states a decision reads, as loaded for it."""

    def state(self, key: StreamKey) -> object: ...

    def order(self, key: OrderKey) -> Order | None: ...

    def new_code(self) -> str:
        """A fresh unguessable redemption code (the one randomness a decision takes)."""
        ...


class MoreReads(Exception):
    """The decision needs streams that only its state named (a reward hold's stock): read
    `streams` too and decide again. Never reaches a caller."""

    def __init__(self, streams: tuple[StreamKey, ...]) -> None:
        super().__init__(streams)
        self.streams = streams


def reads(target: Target, command: Command, also: tuple[StreamKey, ...] = ()) -> Reads:
    """`also`: streams a decision asked for (MoreReads), read after the ones named here."""
    found = _reads(target, command)
    if also:
        return Reads(
            found.streams + tuple(key for key in also if key not in found.streams),
            found.orders,
            found.new_order,
        )
    return found


def _reads(target: Target, command: Command) -> Reads:
    program = program_key(target.program_id)
    if target.member_id is None:
        assert isinstance(command, (CreateProgram, UpdateProgram)), command
        return Reads((program,))
    account = target.stream
    reward_id = _reward_named(command)
    if reward_id:
        # Read even when the reward's stock is unlimited (a stream never written reads as
        # empty): which rewards are limited is only known once the program is read.
        return Reads((program, account, reward_stock_key(target.program_id, reward_id)))
    if isinstance(command, TransferPoints):
        destination = account_key(target.program_id, command.destination_member_id)
        return Reads((program, account, destination))
    if isinstance(command, Enroll) and command.referrer_key:
        return Reads((program, account, account_key(target.program_id, command.referrer_key)))
    order_id = accounts.order_named(command)
    if order_id is not None:
        return Reads(
            (program, account), ((account, order_id),), isinstance(command, RecordPurchase)
        )
    return Reads((program, account))


def decide(
    target: Target,
    command: Command,
    streams: Streams,
    now: datetime,
    needed: Reads | None = None,
) -> Decision:
    """Raises a LedgerError, and appends nothing, when the command cannot be applied.
    `needed`: what `reads` answered for this command, if the caller kept it."""
    if needed is None:
        needed = reads(target, command)
    program = streams.state(needed.streams[0])
    assert isinstance(program, ProgramState)
    if target.member_id is None:
        events = programs.decide(program, command)
        return Decision(((needed.streams[0], events),), DONE)
    source = _account(streams, needed.streams[1])
    if isinstance(command, TransferPoints):
        destination = _account(streams, needed.streams[2])
        out, into = accounts.decide_transfer(
            source, destination, program, command, now, needed.streams[1][1]
        )
        return Decision(((needed.streams[1], out), (needed.streams[2], into)), DONE)
    if isinstance(command, ForgetMember):
        forgotten = accounts.decide_forget(source, command)
        return Decision(((needed.streams[1], forgotten),), DONE, erases=(needed.streams[1],))
    if accounts.is_reward_command(source, command):
        return _decide_reward(target, command, streams, now, needed, source, program)
    orders: Mapping[str, Order] = {}
    for key in needed.orders:
        order = streams.order(key)
        if order is not None:
            orders = {key[1]: order}
    if source.referral is not None or (isinstance(command, Enroll) and command.referral_code):
        return _decide_referral(command, streams, now, needed, source, program, orders)
    events = accounts.decide(source, program, command, now, orders)
    return Decision(((needed.streams[1], events),), accounts.result(command, events))


def _account(streams: Streams, key: StreamKey) -> AccountState:
    state = streams.state(key)
    assert isinstance(state, AccountState), key
    return state


def _reward_named(command: Command) -> str:
    if isinstance(command, RedeemReward):
        return command.reward_id
    if isinstance(command, ReservePoints):
        return command.reward_id
    return ""


def _decide_reward(
    target: Target,
    command: Command,
    streams: Streams,
    now: datetime,
    needed: Reads,
    source: AccountState,
    program: ProgramState,
) -> Decision:
    account = needed.streams[1]
    reward_id = _reward_named(command)
    needs_stock = True
    if not reward_id:
        # Commit or cancel of a reward's hold: the hold names the reward and its stock.
        assert isinstance(command, (CommitReservation, CancelReservation)), command
        hold = source.holds[command.reservation_id]
        reward_id, needs_stock = hold.reward_id, hold.stock_held
    stock_key = reward_stock_key(target.program_id, reward_id)
    stock: StockState | None = None
    if needs_stock:
        if stock_key not in needed.streams:
            raise MoreReads((stock_key,))
        found = streams.state(stock_key)
        assert isinstance(found, StockState), stock_key
        stock = found
    member_key = account[1]
    account_events, stock_events = accounts.decide_reward(
        source, stock, program, command, now, member_key, streams.new_code()
    )
    appends: tuple[tuple[StreamKey, Sequence[Event]], ...] = ((account, account_events),)
    if stock_events:
        appends += ((stock_key, stock_events),)
    return Decision(appends, accounts.result(command, account_events))


def _decide_referral(
    command: Command,
    streams: Streams,
    now: datetime,
    needed: Reads,
    friend: AccountState,
    program: ProgramState,
    orders: Mapping[str, Order],
) -> Decision:
    """A command on the account of a member who enrolled with a code (or enrolls with one
    now): the referrer's account is read too when the referral is applied, due to be
    credited, or reversed by a refund, and both accounts' events are one decision."""
    account = needed.streams[1]
    friend_key = account[1]
    if isinstance(command, Enroll):
        events = accounts.decide(friend, program, command, now, orders)
        referrer_stream = needed.streams[2] if command.referrer_key else None
        referrer = _account(streams, referrer_stream) if referrer_stream else None
        applied, received = referrals.applied(command, referrer, program, friend_key)
        appends: tuple[tuple[StreamKey, Sequence[Event]], ...] = ((account, events + applied),)
        if referrer_stream is not None and received:
            appends += ((referrer_stream, received),)
        return Decision(appends, accounts.result(command, events))
    due = referrals.due(friend, now)
    refund = isinstance(command, RefundPurchase) and referrals.reversal_named(
        friend, program, command
    )
    if not (due or refund):
        events = accounts.decide(friend, program, command, now, orders)
        return Decision(((account, events),), accounts.result(command, events))
    assert friend.referral is not None
    referrer_stream = account_key(account[0], friend.referral.referrer_key)
    if referrer_stream not in needed.streams:
        raise MoreReads((referrer_stream,))
    referrer = _account(streams, referrer_stream)
    friend_events: list[Event] = []
    referrer_events: list[Event] = []
    if due:
        referrer_events = accounts.housekeeping(referrer, now, program)
        referrer = _folded(referrer, referrer_events)
        credit, credit_referrer = referrals.credited(friend, referrer, program, now, friend_key)
        friend_events += credit
        referrer_events += credit_referrer
        friend = _folded(friend, credit)
        referrer = _folded(referrer, credit_referrer)
    events = accounts.decide(friend, program, command, now, orders)
    friend_events += events
    if isinstance(command, RefundPurchase) and referrals.reversal_named(friend, program, command):
        reversal, reversal_referrer = referrals.reversed_by_refund(
            _folded(friend, events),
            referrer,
            program,
            orders[command.order_id],
            command,
            friend_key,
        )
        friend_events += reversal
        referrer_events += reversal_referrer
    appends = ((account, friend_events),)
    if referrer_events:
        appends += ((referrer_stream, referrer_events),)
    return Decision(appends, accounts.result(command, events))


def _folded(state: AccountState, events: Sequence[Event]) -> AccountState:
    for event in events:
        state = evolve(state, event)
    return state
