"""Every event type an account holds has its line in the finance report's one table, so a new
kind of event (a referral credit) cannot slip into the report unclassified unnoticed."""

from ledger.audit.point_flows import FLOW_COLUMNS, FLOWS, UNCLASSIFIED, column_of
from ledger.domain.events import EVENT_TYPES

OTHER_STREAMS = frozenset(
    {"ProgramCreated", "ProgramUpdated", "RewardUnitIssued", "RewardUnitHeld", "RewardUnitReleased"}
)
"""The program stream's and the reward stock streams' event types: they move no points."""


def test_every_account_event_type_has_its_line_in_the_table() -> None:
    account_types = set(EVENT_TYPES) - OTHER_STREAMS

    missing = account_types - set(FLOWS)

    assert not missing, f"add a line for {sorted(missing)} to ledger/audit/point_flows.py FLOWS"
    assert set(FLOWS) <= set(EVENT_TYPES)


def test_the_table_names_only_the_reports_columns() -> None:
    named = {flow.credit for flow in FLOWS.values()} | {flow.debit for flow in FLOWS.values()}

    assert named - {None} <= set(FLOW_COLUMNS) - {UNCLASSIFIED}


def test_points_in_and_out_go_to_their_own_columns() -> None:
    assert column_of("HistoryImported", 300) == "issued_import"
    assert column_of("HistoryImported", -40) == "redeemed"
    assert column_of("PointsAdjusted", -5) == "adjusted_down"
    # An event that should never move points, or one the table lacks, is kept apart.
    assert column_of("PointsReserved", -5) == UNCLASSIFIED
    assert column_of("SomethingNew", 10) == UNCLASSIFIED
