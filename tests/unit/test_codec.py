"""Snapshots, stored events and stored answers round-trip through their JSON data without loss,
and event data comes out in the canonical key order the hash chain needs."""

import json
from typing import Any

import pytest

from ledger.codec import events as event_codec
from ledger.codec import snapshots
from ledger.codec.chain import jsonb_ordered
from ledger.codec.events import UnknownEventType
from ledger.domain.account import AccountState
from ledger.domain.events import (
    EVENT_TYPES,
    ActionRecorded,
    BonusGranted,
    Event,
    FeedbackRecorded,
    HistoryImported,
    InactiveBalanceExpired,
    InactivityExpiryScheduled,
    MemberForgotten,
    MilestoneClawedBack,
    MilestoneReached,
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
    ReferralApplied,
    ReferralCredited,
    ReferralQualified,
    ReferralReceived,
    ReferralRefused,
    ReferralReversed,
    ReferralStatusChanged,
    ReferrerCredited,
    ReferrerCreditReversed,
    ReservationCommitted,
    ReservationReleased,
    RewardRedeemed,
    RewardReserved,
    RewardUnitHeld,
    RewardUnitIssued,
    RewardUnitReleased,
    TierChanged,
    TierPeriodStarted,
    TierSpendRefunded,
    TierStep,
)
from ledger.domain.kinds import ACCOUNT
from ledger.domain.kinds import PROGRAM as PROGRAM_KIND
from ledger.domain.program import ProgramState, evolve
from ledger.domain.settings import NegativeBalancePolicy

from .scenario import (
    CATALOGUE_PROGRAM,
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

TWO_LOTS = (lot("2026-06-01T00:00:00.000000Z", 2), lot(None, 3))

ONE_OF_EACH: list[Event] = [
    ProgramCreated(PROGRAM_ID, PROGRAM.settings),
    ProgramUpdated(PROGRAM.settings),
    enrolled(),
    MemberForgotten("member_request"),
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
    InactivityExpiryScheduled("2026-06-02T22:00:00.000000Z", 2),
    InactiveBalanceExpired("2026-06-02T22:00:00.000000Z", 5, TWO_LOTS),
    HistoryImported("h-1", "redemption", -5, "2025-01-01T00:00:00.000000Z", None, TWO_LOTS, 0),
    ProgramUpdated(CATALOGUE_PROGRAM.settings),
    RewardRedeemed(
        "r10", "ABCD-EFGH", 5, TWO_LOTS, "", 3, "$10 off", "amount_off", 1_000, "USD", 0, ""
    ),
    RewardReserved("r-2", "r10", 5, "2026-03-01T12:15:00.000000Z", TWO_LOTS, True, 3),
    RewardUnitHeld("~key", "r-2", "2026-03-01T12:15:00.000000Z"),
    RewardUnitIssued("~key", "ABCD-EFGH", "r-2"),
    RewardUnitReleased("~key", "r-3", "lapsed"),
    ActionRecorded(
        "review",
        "rev-1",
        20,
        50,
        "cap_reached",
        "month",
        EXPIRES,
        2,
        "2026-03-01",
        "2026-W09",
        "2026-03",
        "2026",
    ),
    BonusGranted(25, "vip_surprise", "note", "agent:42", None, 2),
    MilestoneReached("third_order", "o-1", 300, EXPIRES, 2),
    MilestoneClawedBack("third_order", "o-1", 300, TWO_LOTS, 295, 0),
    FeedbackRecorded(0, None, 5, "email"),
    TierPeriodStarted(
        "2026-03", "2025-04", "rolling_months", "points", (TierStep("gold", 1_000),), "ab12", 2
    ),
    TierChanged(
        "",
        "gold",
        "qualified",
        1_200,
        "2027-04-01T00:00:00.000000Z",
        "2027-05-01T00:00:00.000000Z",
        150,
        ("free_shipping", "early_access"),
        2,
    ),
    TierChanged("gold", "", "manual", 40, None, None, 100, (), 3, "admin:7", "fraud", "note"),
    TierSpendRefunded("o-1", 500, "USD"),
    ReferralApplied("~referrer", "pending", ""),
    ReferralQualified("o-1", "2026-03-15T12:00:00.000000Z"),
    ReferralCredited("~referrer", "o-1", 100, EXPIRES, 2),
    ReferralRefused("referrer_cap_reached"),
    ReferralReversed("o-1", "order_refunded", 100, TWO_LOTS, 0, 5),
    ReferralReceived("~friend", "refused", "self_referral"),
    ReferrerCredited("~friend", 500, EXPIRES, 2, "2026-03-15", "2026-W11", "2026-03", "2026"),
    ReferralStatusChanged("~friend", "reversed", "order_refunded"),
    ReferrerCreditReversed("~friend", "order_refunded", 500, TWO_LOTS, 400, 0),
]


def through_json(data: dict[str, Any]) -> dict[str, Any]:
    """What the store gives back: the data as parsed from its canonical JSON."""
    parsed: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))
    return parsed


def test_the_samples_cover_every_event_type() -> None:
    assert {type(event) for event in ONE_OF_EACH} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: type(event).event_type)
def test_every_event_type_round_trips_through_its_data(event: Event) -> None:
    data = through_json(event_codec.encode(event))

    restored = event_codec.decode(event.event_type, event.schema_version, data)

    assert restored == event
    assert event_codec.encode(restored) == event_codec.encode(event)


def test_an_unknown_event_type_is_refused_on_read() -> None:
    with pytest.raises(UnknownEventType):
        event_codec.decode("PointsMinted", 1, {})


def test_an_event_of_a_newer_schema_version_is_refused_on_read() -> None:
    event = earned(5)

    with pytest.raises(UnknownEventType):
        event_codec.decode(event.event_type, event.schema_version + 1, event_codec.encode(event))


def test_data_with_a_missing_or_unexpected_field_is_refused_on_read() -> None:
    data = event_codec.encode(earned(5))

    with pytest.raises(TypeError):
        event_codec.decode("PointsEarned", 1, {**data, "pointz": 5})
    with pytest.raises(TypeError):
        event_codec.decode("PointsEarned", 1, {k: v for k, v in data.items() if k != "points"})


def test_account_state_round_trips_through_its_snapshot_data() -> None:
    state = given(
        enrolled(),
        earned(10, "2026-06-01T00:00:00.000000Z"),
        earned(20, None),
        purchased("o-1", 5_000, 50),
        purchased("o-2", 3_000, 30, release_at=None),
        PurchaseRefunded("o-2", 1_000, 10, 0, (lot(EXPIRES, 10),), 0, 0),
        PointsReserved(
            "r-1",
            15,
            "2026-03-01T12:15:00.000000Z",
            (lot("2026-06-01T00:00:00.000000Z", 10), lot(EXPIRES, 5)),
        ),
        PointsRedeemed(3, "", (lot(EXPIRES, 3),)),
    )

    restored = snapshots.decode(ACCOUNT, through_json(snapshots.encode(ACCOUNT, state)))

    assert restored == AccountState(**{k: v for k, v in vars(state).items() if k != "orders"})
    restored.check_invariants()


def test_a_negative_balance_round_trips_through_its_snapshot_data() -> None:
    state = given(
        enrolled(),
        purchased("o-1", 10_000, 100, release_at=None),
        PointsRedeemed(80, "", (lot(EXPIRES, 80),)),
        PurchaseRefunded("o-1", 10_000, 100, 0, (lot(EXPIRES, 20),), 80, 0),
    )

    restored = snapshots.decode(ACCOUNT, through_json(snapshots.encode(ACCOUNT, state)))
    assert restored.balances == state.balances and restored.lots == state.lots


def test_an_empty_account_round_trips_through_its_snapshot_data() -> None:
    empty = AccountState()
    assert snapshots.decode(ACCOUNT, through_json(snapshots.encode(ACCOUNT, empty))) == empty


def test_program_state_round_trips_and_folds_from_its_events() -> None:
    updated = program(revision=2, policy=NegativeBalancePolicy.ALLOW_NEGATIVE, points_expiry_days=0)

    folded = evolve(ProgramState(), ONE_OF_EACH[0])
    folded = evolve(folded, ProgramUpdated(updated.settings))

    assert folded == updated
    assert (
        snapshots.decode(PROGRAM_KIND, through_json(snapshots.encode(PROGRAM_KIND, folded)))
        == folded
    )


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: type(event).event_type)
def test_every_event_type_writes_its_data_in_canonical_key_order(event: Event) -> None:
    """The writers hash event data without re-sorting it (chain.canonical_text in_order), so
    the encoded data must already be in jsonb's key order at every level."""
    data = event_codec.encode(event)

    assert json.dumps(data) == json.dumps(jsonb_ordered(data))


def test_an_old_snapshot_with_every_order_still_reads() -> None:
    """State rows written before orders left the snapshot (log v1) keep an "orders" object."""
    state = given(enrolled(), purchased("o-1", 5_000, 50))
    data = snapshots.encode(ACCOUNT, state)
    old = {**data, "orders": {"o-1": {"amount_minor": 5_000, "currency_code": "USD"}}}

    assert snapshots.decode(ACCOUNT, through_json(old)) == snapshots.decode(ACCOUNT, data)


def test_an_old_program_snapshot_still_reads() -> None:
    """Program rows written before kinds had snapshot codecs nest the state under "program"."""
    data = snapshots.encode(PROGRAM_KIND, PROGRAM)
    old = {"program": data, "updated_at": "2026-03-01T12:00:00.000000Z"}

    assert snapshots.decode(PROGRAM_KIND, through_json(old)) == PROGRAM
