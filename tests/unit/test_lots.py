"""Lot arithmetic: points grouped by expiry date, spent soonest-expiring first."""

import pytest

from ledger.domain import lots

from .scenario import lot


def test_adding_merges_same_day_lots_and_sorts_never_expiring_last() -> None:
    held = (lot("2026-06-01T00:00:00.000000Z", 10), lot(None, 5))

    result = lots.add(
        held,
        (
            lot(None, 1),
            lot("2026-04-01T00:00:00.000000Z", 3),
            lot("2026-06-01T00:00:00.000000Z", 2),
        ),
    )

    assert result == (
        lot("2026-04-01T00:00:00.000000Z", 3),
        lot("2026-06-01T00:00:00.000000Z", 12),
        lot(None, 6),
    )


def test_adding_drops_empty_portions() -> None:
    assert lots.add((), (lot("2026-06-01T00:00:00.000000Z", 0),)) == ()


def test_subtracting_removes_emptied_lots() -> None:
    held = (lot("2026-04-01T00:00:00.000000Z", 3), lot("2026-06-01T00:00:00.000000Z", 12))

    assert lots.subtract(
        held, (lot("2026-04-01T00:00:00.000000Z", 3), lot("2026-06-01T00:00:00.000000Z", 2))
    ) == (lot("2026-06-01T00:00:00.000000Z", 10),)


def test_subtracting_more_than_a_lot_holds_is_a_bug_caught_by_an_assertion() -> None:
    with pytest.raises(AssertionError):
        lots.subtract(
            (lot("2026-04-01T00:00:00.000000Z", 3),), (lot("2026-04-01T00:00:00.000000Z", 4),)
        )
    with pytest.raises(AssertionError):
        lots.subtract(
            (lot("2026-04-01T00:00:00.000000Z", 3),), (lot("2026-05-01T00:00:00.000000Z", 1),)
        )


def test_taking_starts_with_the_soonest_expiring_lot() -> None:
    held = (
        lot("2026-04-01T00:00:00.000000Z", 3),
        lot("2026-06-01T00:00:00.000000Z", 12),
        lot(None, 6),
    )

    assert lots.take(held, 5) == (
        lot("2026-04-01T00:00:00.000000Z", 3),
        lot("2026-06-01T00:00:00.000000Z", 2),
    )
    assert lots.take(held, 0) == ()


def test_taking_more_than_held_takes_everything_there_is() -> None:
    held = (lot("2026-04-01T00:00:00.000000Z", 3), lot(None, 6))

    assert lots.take(held, 100) == held


def test_taking_latest_starts_with_the_latest_expiring_and_returns_them_sorted() -> None:
    held = (
        lot("2026-04-01T00:00:00.000000Z", 3),
        lot("2026-06-01T00:00:00.000000Z", 12),
        lot(None, 6),
    )

    assert lots.take_latest(held, 10) == (lot("2026-06-01T00:00:00.000000Z", 4), lot(None, 6))


def test_total_counts_every_point() -> None:
    assert lots.total((lot("2026-04-01T00:00:00.000000Z", 3), lot(None, 6))) == 9
    assert lots.total(()) == 0
