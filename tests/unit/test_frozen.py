"""The records a batch builds without their frozen __init__, and the copies the fold makes
without dataclasses.replace (ledger.domain.frozen), are the plain versions: every field set,
equal to the constructor's and dataclasses.replace's result, still frozen; and a misspelled
field is refused as the plain versions refuse it."""

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.batch import Batch
from ledger.codec import responses
from ledger.domain import events as domain_events
from ledger.domain.account import AccountState, Balances, Hold, PendingEarn
from ledger.domain.commands import (
    CreateProgram,
    EarnPoints,
    Enroll,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    ReservePoints,
    TransferPoints,
)
from ledger.domain.decisions import Target
from ledger.domain.frozen import build, replace
from ledger.domain.orders import Order
from ledger.domain.program import ProgramState
from ledger.domain.results import RefundResult
from ledger.domain.settings import ProgramSettings
from ledger.outcomes import AccountView, Outcome
from ledger.requests import Request

from .scenario import MEMBER, OTHER_MEMBER, PROGRAM, PROGRAM_ID, T0

# Every frozen dataclass the fold copies with `replace`, and the answers the ledger renames
# for its caller (ledger/members.py).
COPIED = [
    Balances,
    AccountState,
    Order,
    ProgramState,
    ProgramSettings,
    Hold,
    PendingEarn,
    AccountView,
    Outcome,
]


def _whole(record: Any) -> None:
    names = {field.name for field in dataclasses.fields(record)}
    assert vars(record).keys() == names, type(record).__name__
    assert record == type(record)(**vars(record))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, next(iter(names), "any_attribute"), None)


def test_every_record_of_a_batch_is_whole_and_frozen() -> None:
    batch = Batch({}, {}, {((PROGRAM_ID, MEMBER), "o-1"): []}, T0)
    member, other = Target(PROGRAM_ID, MEMBER), Target(PROGRAM_ID, OTHER_MEMBER)
    requests = [
        Request(Target(PROGRAM_ID), CreateProgram(PROGRAM_ID, PROGRAM.settings), "r-0"),
        Request(member, Enroll(PROGRAM_ID, MEMBER), "r-1"),
        Request(other, Enroll(PROGRAM_ID, OTHER_MEMBER), "r-2"),
        Request(member, EarnPoints(50, "signup"), "r-3"),
        Request(member, RedeemPoints(5, "order-1"), "r-4"),
        Request(member, ReservePoints("hold-1", 5, 600), "r-5"),
        Request(member, TransferPoints(OTHER_MEMBER, 10, "t-1"), "r-6"),
        Request(member, RecordPurchase("o-1", 1_000, "USD", 2), "r-7"),
        Request(member, RefundPurchase("o-1", 500, "USD"), "r-8"),
    ]
    outcomes = [batch.apply(request) for request in requests]
    assert len(batch.events) == 10
    for record in batch.events + batch.requests:
        _whole(record)
    for request, outcome in zip(requests, outcomes, strict=True):
        _whole(outcome)
        _whole(outcome.result)
        stored = responses.decode(responses.encode(outcome), request.command)
        assert stored == dataclasses.replace(outcome, appended=0)
        for view in outcome.accounts.values():
            _whole(view)
    assert outcomes[6].accounts[OTHER_MEMBER].balances.available == 10
    assert outcomes[8].result == RefundResult(points_clawed_back=5, points_not_recovered=0)


@pytest.mark.parametrize("cls", COPIED, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_replace_equals_dataclasses_replace(cls: type[Any], data: st.DataObject) -> None:
    original = data.draw(st.from_type(cls))
    names = [field.name for field in dataclasses.fields(cls)]
    changed = data.draw(st.sets(st.sampled_from(names)))
    changes = {name: getattr(data.draw(st.from_type(cls)), name) for name in sorted(changed)}
    copy = replace(original, **changes)
    assert copy == dataclasses.replace(original, **changes)
    _whole(copy)
    assert original == dataclasses.replace(original)  # the original is left as it was


@pytest.mark.parametrize("cls", COPIED, ids=lambda cls: cls.__name__)
def test_replace_refuses_a_misspelled_field_as_dataclasses_replace_does(cls: type[Any]) -> None:
    instance = build(cls, **_defaults(cls))
    with pytest.raises(TypeError):
        dataclasses.replace(instance, misspelled=1)
    with pytest.raises(TypeError):
        replace(instance, misspelled=1)


def test_build_equals_the_constructor_and_refuses_missing_or_extra_fields() -> None:
    values = {
        "available": 1,
        "pending": 2,
        "held": 3,
        "lifetime_earned": 4,
        "lifetime_redeemed": 5,
        "expired": 6,
    }
    assert build(Balances, **values) == Balances(1, 2, 3, 4, 5, 6)
    _whole(build(Balances, **values))
    with pytest.raises(TypeError):
        build(Balances, **{**values, "availble": 1})
    with pytest.raises(TypeError):
        build(Balances, **{name: 0 for name in list(values)[1:]})


def test_every_event_type_decoded_by_build_is_whole() -> None:
    for cls in domain_events.EVENT_TYPES.values():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        assert "__post_init__" not in vars(cls), cls


def _defaults(cls: type[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            values[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            values[field.name] = field.default_factory()
        else:
            values[field.name] = 0
    return values
