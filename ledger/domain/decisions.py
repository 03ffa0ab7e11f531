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
from ledger.domain.account import AccountState
from ledger.domain.commands import (
    Command,
    CreateProgram,
    ForgetMember,
    TransferPoints,
    UpdateProgram,
)
from ledger.domain.events import Event
from ledger.domain.kinds import StreamKey, account_key, program_key
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.results import DONE, Result

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


def reads(target: Target, command: Command) -> Reads:
    program = program_key(target.program_id)
    if target.member_id is None:
        assert isinstance(command, (CreateProgram, UpdateProgram)), command
        return Reads((program,))
    account = target.stream
    if isinstance(command, TransferPoints):
        destination = account_key(target.program_id, command.destination_member_id)
        return Reads((program, account, destination))
    order_id = accounts.order_named(command)
    if order_id is not None:
        return Reads((program, account), ((account, order_id),))
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
    orders: Mapping[str, Order] = {}
    for key in needed.orders:
        order = streams.order(key)
        if order is not None:
            orders = {key[1]: order}
    events = accounts.decide(source, program, command, now, orders)
    return Decision(((needed.streams[1], events),), accounts.result(command, events))


def _account(streams: Streams, key: StreamKey) -> AccountState:
    state = streams.state(key)
    assert isinstance(state, AccountState), key
    return state
