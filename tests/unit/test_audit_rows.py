"""The audit's typed rows read their balances by position in C; they must say what the named
columns say."""

from ledger.store.audit_reader import EventRow, StateRow


def test_an_event_rows_balances_after_are_its_balance_columns_in_order() -> None:
    row = EventRow(
        "shop", "alice", 3, "id", "PointsEarned", 1, "{}", "{}", "t", 1, 2, 3, 4, 5, 6, b""
    )

    assert (
        row.balances_after
        == (
            row.available,
            row.pending,
            row.held,
            row.lifetime_earned,
            row.lifetime_redeemed,
            row.expired,
        )
        == (1, 2, 3, 4, 5, 6)
    )


def test_a_state_rows_balances_are_its_balance_columns_in_order() -> None:
    row = StateRow("shop", "alice", 3, b"", 1, 2, 3, 4, 5, 6)

    assert (
        row.balances
        == (
            row.available,
            row.pending,
            row.held,
            row.lifetime_earned,
            row.lifetime_redeemed,
            row.expired,
        )
        == (1, 2, 3, 4, 5, 6)
    )
    assert row.key == ("shop", "alice")
