"""The records a batch builds without their frozen __init__ (ledger.domain.frozen) are whole:
every field set on the instance, equal to the same values passed through the constructor, and
still frozen."""

import dataclasses
from typing import Any

import pytest

from ledger.batch import Batch
from ledger.domain.account import AccountState, Balances
from ledger.domain.commands import (
    CreateProgram,
    EarnPoints,
    Enroll,
    RedeemPoints,
    ReservePoints,
    TransferPoints,
)
from ledger.domain.frozen import build, replace
from ledger.outcomes import Outcome
from ledger.requests import Request
from ledger.store.records import PROGRAM_STREAM

from .scenario import MEMBER, OTHER_MEMBER, PROGRAM, PROGRAM_ID, T0


def _whole(record: Any) -> None:
    names = {field.name for field in dataclasses.fields(record)}
    assert vars(record).keys() == names, type(record).__name__
    assert record == type(record)(**vars(record))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, next(iter(names)), None)


def test_every_record_of_a_batch_is_whole_and_frozen() -> None:
    batch = Batch({}, {}, T0)
    requests = [
        Request(PROGRAM_ID, PROGRAM_STREAM, CreateProgram(PROGRAM_ID, PROGRAM.settings), "r-0"),
        Request(PROGRAM_ID, MEMBER, Enroll(PROGRAM_ID, MEMBER), "r-1"),
        Request(PROGRAM_ID, OTHER_MEMBER, Enroll(PROGRAM_ID, OTHER_MEMBER), "r-2"),
        Request(PROGRAM_ID, MEMBER, EarnPoints(50, "signup"), "r-3"),
        Request(PROGRAM_ID, MEMBER, RedeemPoints(5, "order-1"), "r-4"),
        Request(PROGRAM_ID, MEMBER, ReservePoints("hold-1", 5, 600), "r-5"),
        Request(
            PROGRAM_ID,
            MEMBER,
            TransferPoints(OTHER_MEMBER, 10, "t-1"),
            "r-6",
            destination_stream_id=OTHER_MEMBER,
        ),
    ]
    outcomes = [batch.apply(request) for request in requests]
    assert len(batch.events) == 8
    for record in batch.events:
        _whole(record)
    for outcome in outcomes:
        _whole(outcome)
        assert outcome == Outcome.from_data(outcome.to_data())
        for appended in outcome.events:
            _whole(appended)
        for view in outcome.accounts.values():
            _whole(view)
    assert outcomes[-1].accounts[OTHER_MEMBER].balances.available == 10


def test_replace_copies_and_leaves_the_original_as_it_was() -> None:
    original = Balances(available=5, lifetime_earned=5)
    changed = replace(original, available=7)
    assert (original.available, changed.available, changed.lifetime_earned) == (5, 7, 5)
    assert changed == dataclasses.replace(original, available=7)
    _whole(changed)
    state = replace(AccountState(), balances=changed)
    assert state.balances is changed and AccountState().balances == Balances()


def test_build_equals_the_constructor() -> None:
    assert build(Balances, available=1, pending=2, held=3, lifetime_earned=4,
                 lifetime_redeemed=5, expired=6) == Balances(1, 2, 3, 4, 5, 6)  # fmt: skip
