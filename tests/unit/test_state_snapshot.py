"""Snapshots and stored events round-trip through their JSON data without loss."""

import dataclasses
import json
from typing import Any

import pytest

from ledger.domain.account import AccountState
from ledger.domain.events import (
    EVENT_TYPES,
    Event,
    HistoryImported,
    PendingPointsReleased,
    PointsAdjusted,
    PointsExpired,
    PointsRedeemed,
    PointsReserved,
    PointsTransferredIn,
    PointsTransferredOut,
    ProgramCreated,
    ProgramUpdated,
    PurchaseRefunded,
    ReservationCommitted,
    ReservationReleased,
    UnknownEventType,
    event_from_data,
)
from ledger.domain.program import NegativeBalancePolicy, ProgramState, evolve_program

from .scenario import (
    EXPIRES,
    PROGRAM,
    PROGRAM_ID,
    earned,
    enrolled,
    given,
    lot,
    program,
    purchased,
)

TWO_LOTS = (lot("2026-06-01", 2), lot(None, 3))

ONE_OF_EACH: list[Event] = [
    ProgramCreated(PROGRAM_ID, PROGRAM.settings.to_data()),
    ProgramUpdated(PROGRAM.settings.to_data()),
    enrolled(),
    purchased("o-1", 1_999, 19),
    PendingPointsReleased("o-1", 19, EXPIRES, "confirmed"),
    PurchaseRefunded("o-1", 1_000, 9, 0, TWO_LOTS, 4, 0),
    earned(7, None),
    PointsAdjusted(-5, "goodwill", "note\nwith lines", "agent:42", None, TWO_LOTS),
    PointsRedeemed(5, "ref", TWO_LOTS),
    PointsReserved("r-1", 5, "2026-03-01T12:15:00.000000Z", TWO_LOTS),
    ReservationCommitted("r-1", 2, 3, (lot(None, 3),)),
    ReservationReleased("r-1", 5, TWO_LOTS, "expired"),
    PointsTransferredOut("t-1", "member-2", 5, TWO_LOTS),
    PointsTransferredIn("t-1", "member-1", 5, TWO_LOTS),
    PointsExpired(EXPIRES, 10),
    HistoryImported("h-1", "redemption", -5, "2025-01-01T00:00:00.000000Z", None, TWO_LOTS, 0),
]


def through_json(data: dict[str, Any]) -> dict[str, Any]:
    """What the store gives back: the data as parsed from its canonical JSON."""
    parsed: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))
    return parsed


def test_the_samples_cover_every_event_type() -> None:
    assert {type(event) for event in ONE_OF_EACH} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: type(event).event_type)
def test_every_event_type_round_trips_through_its_data(event: Event) -> None:
    data = through_json(event.to_data())

    restored = event_from_data(event.event_type, event.schema_version, data)

    assert restored == event
    assert restored.to_data() == event.to_data()


def test_an_unknown_event_type_is_refused_on_read() -> None:
    with pytest.raises(UnknownEventType):
        event_from_data("PointsMinted", 1, {})


def test_an_event_of_a_newer_schema_version_is_refused_on_read() -> None:
    event = earned(5)

    with pytest.raises(UnknownEventType):
        event_from_data(event.event_type, event.schema_version + 1, event.to_data())


def test_account_state_round_trips_through_its_snapshot_data() -> None:
    state = given(
        enrolled(),
        earned(10, "2026-06-01"),
        earned(20, None),
        purchased("o-1", 5_000, 50),
        purchased("o-2", 3_000, 30, release_at=None),
        PurchaseRefunded("o-2", 1_000, 10, 0, (lot(EXPIRES, 10),), 0, 0),
        PointsReserved(
            "r-1", 15, "2026-03-01T12:15:00.000000Z", (lot("2026-06-01", 10), lot(EXPIRES, 5))
        ),
        PointsRedeemed(3, "", (lot(EXPIRES, 3),)),
    )

    restored = AccountState.from_data(through_json(state.to_data()))

    assert restored == state
    restored.check_invariants()


def test_a_negative_balance_round_trips_through_its_snapshot_data() -> None:
    state = given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsRedeemed(80, "", (lot(EXPIRES, 80),)),
        PurchaseRefunded("o-1", 10_000, 100, 0, (lot(EXPIRES, 20),), 80, 0),
    )

    assert AccountState.from_data(through_json(state.to_data())) == state


def test_an_empty_account_round_trips_through_its_snapshot_data() -> None:
    assert AccountState.from_data(through_json(AccountState().to_data())) == AccountState()


def test_program_state_round_trips_and_folds_from_its_events() -> None:
    updated = program(revision=2, policy=NegativeBalancePolicy.ALLOW_NEGATIVE, points_expiry_days=0)

    folded = evolve_program(ProgramState(), "ProgramCreated", ONE_OF_EACH[0].to_data())
    folded = evolve_program(folded, "ProgramUpdated", {"settings": updated.settings.to_data()})

    assert folded == updated
    assert ProgramState.from_data(through_json(folded.to_data())) == folded


def test_every_event_type_writes_its_data_in_canonical_key_order() -> None:
    """The writers hash event data without re-sorting it (chain.canonical_json in_order), so
    every event's to_data() must already be in jsonb's key order, lots included."""
    from ledger.domain.events import EVENT_TYPES, LotPortion
    from ledger.store.chain import _jsonb_ordered

    lots = (LotPortion("2027-01-01", 5), LotPortion(None, 7))
    for event_type, cls in EVENT_TYPES.items():
        if event_type.startswith("Program"):
            continue  # program events nest settings and are re-sorted by the writer
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            annotation = str(item.type)
            if "Lots" in annotation:
                values[item.name] = lots
            elif "int" in annotation:
                values[item.name] = 1
            else:
                values[item.name] = "2027-01-01"
        data = cls(**values).to_data()
        assert list(data) == list(_jsonb_ordered(data)), event_type
        for value in data.values():
            if isinstance(value, list):
                for element in value:
                    assert list(element) == list(_jsonb_ordered(element)), event_type
