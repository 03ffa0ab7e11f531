"""Lots written by the first release hold an expiry date D (they expired at the start of D,
UTC). Every reader of stored bytes (events, snapshot rows, stored answers) reads them as that
instant, so old lots keep their meaning and merge with new lots of the same instant."""

from typing import Any

from ledger.codec import events as event_codec
from ledger.codec import responses, snapshots
from ledger.domain.account import Balances
from ledger.domain.commands import EarnPoints
from ledger.domain.events import PendingPointsReleased, PointsEarned, PointsRedeemed
from ledger.domain.kinds import ACCOUNT
from ledger.domain.results import DONE
from ledger.outcomes import AccountView, Outcome

from .scenario import given, lot, then

MIDNIGHT = "2027-03-01T00:00:00.000000Z"


def test_an_event_written_with_an_expiry_date_reads_as_the_start_of_that_day_utc() -> None:
    earned = event_codec.decode(
        "PointsEarned",
        1,
        {"points": 40, "reason": "bonus", "expires_on": "2027-03-01", "program_revision": 1},
    )
    redeemed = event_codec.decode(
        "PointsRedeemed",
        1,
        {"points": 5, "taken": [{"points": 5, "expires_on": "2027-03-01"}], "reference": ""},
    )

    assert earned == PointsEarned(40, "bonus", MIDNIGHT, 1)
    assert redeemed == PointsRedeemed(5, "", (lot(MIDNIGHT, 5),))


def test_an_old_lot_and_a_new_lot_of_the_same_instant_are_one_lot() -> None:
    old = event_codec.decode(
        "PointsEarned",
        1,
        {"points": 40, "reason": "bonus", "expires_on": "2027-03-01", "program_revision": 1},
    )

    state = then(given(old), [PointsEarned(2, "new", MIDNIGHT, 2)])

    assert state.lots == (lot(MIDNIGHT, 42),)


def test_a_snapshot_row_written_with_expiry_dates_reads_as_instants() -> None:
    row: dict[str, Any] = {
        "enrolled": True,
        "referral_code": "ABC",
        "balances": {
            "available": 40,
            "pending": 10,
            "held": 0,
            "lifetime_earned": 50,
            "lifetime_redeemed": 0,
            "expired": 0,
        },
        "lots": [{"points": 40, "expires_on": "2027-03-01"}],
        "pending": {
            "o-1": {
                "points": 10,
                "release_at": "2026-03-15T12:00:00.000000Z",
                "expires_on": "2027-03-01",
            }
        },
        "holds": {},
    }

    state = snapshots.decode(ACCOUNT, row)

    assert state.lots[0] == lot(MIDNIGHT, 40)
    assert state.pending["o-1"].expires_on == MIDNIGHT
    assert state.balance_expires_at is None
    released = then(state, [PendingPointsReleased("o-1", 10, MIDNIGHT, "confirmed")])
    assert released.lots[0] == lot(MIDNIGHT, 50)


def test_a_stored_answer_written_with_expiry_dates_answers_a_retry_with_the_same_instant() -> None:
    view = AccountView("p", "~key", 3, Balances(available=40), (lot(MIDNIGHT, 40),), "ABC", "")
    data = responses.encode(Outcome(DONE, {"~key": view}))
    data["accounts"]["~key"]["expiring"] = [{"points": 40, "expires_on": "2027-03-01"}]

    restored = responses.decode(data, EarnPoints(40, "bonus"))

    assert restored.accounts["~key"] == view
