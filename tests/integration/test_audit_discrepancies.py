"""Each way the log or its state rows can be changed behind the triggers' back is reported,
naming the stream, the version and the event at fault (no event where a state row is)."""

from collections.abc import Iterator

import psycopg
import pytest

from ledger.audit.replay import replay
from ledger.domain.commands import EarnPoints, RedeemPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger
from tests.integration.log_v1 import fresh_database
from tests.integration.tampering import behind_the_triggers, event_ids, rehash

Found = tuple[str, int, str, str]
"""stream, version, event id, kind"""


@pytest.fixture(scope="module")
def database_url(server_url: str) -> Iterator[str]:
    """A database of this module's own: its tests delete and rewrite rows behind the
    triggers' back, which would upset every test that counts or follows the whole log."""
    with fresh_database(server_url, "loyalty_tampered") as url:
        yield url


@pytest.fixture
async def history(database_url: str, clock: FakeClock) -> tuple[str, list[str]]:
    """A program whose two members each enrolled (version 1), earned 100 (2), earned 50 (3)
    and redeemed 30 (4); the audit finds nothing wrong with it. Returns the program and the
    members' stream ids (their keys), which the tampering below goes by."""
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        members = [await new_member(ledger, program_id, points=100) for _ in range(2)]
        for member_id in members:
            for command in (EarnPoints(50, "bonus"), RedeemPoints(30)):
                await ledger.execute(Request(Target(program_id, member_id), command, request_id()))
    assert replay(database_url, program_id).ok
    return program_id, [member_key(database_url, program_id, member) for member in members]


def _found(database_url: str, program_id: str) -> list[Found]:
    audit = replay(database_url, program_id)
    assert audit.discrepancy_count == len(audit.discrepancies)
    return [
        (found.stream_id, found.version, found.event_id, found.kind)
        for found in audit.discrepancies
    ]


def test_an_edited_amount_is_found_at_its_event(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "UPDATE ledger.events SET data = jsonb_set(data, '{points}', '5000')"
            " WHERE program_id = %s AND stream_id = %s AND version = 3",
            [program_id, member],
        )

    # The chain breaks there, so the state row no longer matches the replayed stream either.
    assert _found(database_url, program_id) == [
        (member, 3, ids[3], "hash_mismatch"),
        (member, 4, "", "state_mismatch"),
    ]


def test_a_deleted_event_is_found_at_the_event_after_it(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "DELETE FROM ledger.events WHERE program_id = %s AND stream_id = %s AND version = 2",
            [program_id, member],
        )

    assert _found(database_url, program_id) == [
        (member, 3, ids[3], "version_gap"),
        (member, 3, ids[3], "hash_mismatch"),
        (member, 4, "", "state_mismatch"),
    ]


def test_two_swapped_events_are_found_at_the_first_of_them(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        for version, new_version in ((2, 1000), (3, 2), (1000, 3)):
            connection.execute(
                "UPDATE ledger.events SET version = %s"
                " WHERE program_id = %s AND stream_id = %s AND version = %s",
                [new_version, program_id, member, version],
            )

    # Version 2 now holds what was the third event.
    assert _found(database_url, program_id) == [
        (member, 2, ids[3], "hash_mismatch"),
        (member, 4, "", "state_mismatch"),
    ]


def test_a_state_row_disagreeing_with_its_events_is_found(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "UPDATE ledger.streams SET points_available = points_available + 1"
            " WHERE program_id = %s AND stream_id = %s",
            [program_id, member],
        )

    assert _found(database_url, program_id) == [(member, 4, "", "state_mismatch")]


def test_stored_balances_a_forger_rehashed_are_found_by_recomputing_them(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "UPDATE ledger.events SET points_available = points_available + 1000"
            " WHERE program_id = %s AND stream_id = %s AND version = 4",
            [program_id, member],
        )
        rehash(connection, program_id, member, 4)

    # The chain holds; the balances recomputed from the events do not match the stored ones,
    # and the state row's last hash is not the forged one.
    assert _found(database_url, program_id) == [
        (member, 4, ids[4], "balance_mismatch"),
        (member, 4, "", "state_mismatch"),
    ]


def test_an_event_a_forger_rehashed_that_does_not_fold_is_found(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (member, _) = history
    ids = event_ids(database_url, program_id, member)
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "UPDATE ledger.events SET event_type = 'PointsConjured'"
            " WHERE program_id = %s AND stream_id = %s AND version = 3",
            [program_id, member],
        )
        rehash(connection, program_id, member, 3)

    assert _found(database_url, program_id) == [
        (member, 3, ids[3], "unreplayable"),
        (member, 4, "", "state_mismatch"),
    ]


def test_a_stream_without_its_state_row_and_a_state_row_without_events_are_found(
    database_url: str, history: tuple[str, list[str]]
) -> None:
    program_id, (first, second) = history
    with behind_the_triggers(database_url) as connection:
        connection.execute(
            "DELETE FROM ledger.streams WHERE program_id = %s AND stream_id = %s",
            [program_id, first],
        )
        connection.execute(
            "DELETE FROM ledger.events WHERE program_id = %s AND stream_id = %s",
            [program_id, second],
        )

    assert sorted(_found(database_url, program_id)) == sorted(
        [(first, 4, "", "missing_state"), (second, 4, "", "orphan_state")]
    )
