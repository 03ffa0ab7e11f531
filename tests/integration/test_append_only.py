"""The log cannot be rewritten, and if it is anyway, the hash chain says where."""

import psycopg
import pytest
from psycopg import errors as pg_errors

from ledger.audit.replay import replay
from ledger.store.errors import APPEND_ONLY_SQLSTATE
from tests.conftest import FakeClock
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger


async def _account_with_history(database_url: str, clock: FakeClock) -> tuple[str, str]:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        member_id = await new_member(ledger, program_id, points=300)
    return program_id, member_key(database_url, program_id, member_id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.events SET data = data WHERE program_id = %s",
        "DELETE FROM ledger.events WHERE program_id = %s",
    ],
    ids=["update", "delete"],
)
async def test_changing_an_event_fails_even_for_the_table_owner(
    database_url: str, clock: FakeClock, statement: str
) -> None:
    program_id, _ = await _account_with_history(database_url, clock)
    with psycopg.connect(database_url) as connection:
        owner = connection.execute(
            "SELECT tableowner = current_user FROM pg_tables"
            " WHERE schemaname = 'ledger' AND tablename = 'events'"
        ).fetchone()
        assert owner == (True,), "the test must run as the owner"
        with pytest.raises(psycopg.Error) as raised:
            connection.execute(statement, [program_id])
    assert raised.value.sqlstate == APPEND_ONLY_SQLSTATE


async def test_truncating_the_log_fails(database_url: str, clock: FakeClock) -> None:
    await _account_with_history(database_url, clock)
    with psycopg.connect(database_url) as connection, pytest.raises(psycopg.Error) as raised:
        connection.execute("TRUNCATE ledger.events")
    assert raised.value.sqlstate == APPEND_ONLY_SQLSTATE


async def test_the_application_role_may_read_and_append_but_not_change_the_log(
    database_url: str, clock: FakeClock
) -> None:
    program_id, _ = await _account_with_history(database_url, clock)
    with psycopg.connect(database_url) as connection:
        connection.execute("SET ROLE loyalty_ledger_app")
        count = connection.execute(
            "SELECT count(*) FROM ledger.events WHERE program_id = %s", [program_id]
        ).fetchone()
        assert count is not None and count[0] > 0
        with pytest.raises(pg_errors.InsufficientPrivilege):
            connection.execute(
                "UPDATE ledger.events SET version = version WHERE program_id = %s", [program_id]
            )


async def test_an_event_changed_behind_the_triggers_back_is_found_by_recomputing_the_chain(
    database_url: str, clock: FakeClock
) -> None:
    program_id, member_id = await _account_with_history(database_url, clock)
    assert replay(database_url, program_id).ok
    with psycopg.connect(database_url) as connection:
        # A superuser can switch triggers off; this is the tampering the chain exists for.
        connection.execute("SET session_replication_role = replica")
        row = connection.execute(
            "UPDATE ledger.events SET data = jsonb_set(data, '{points}', '3000')"
            " WHERE program_id = %s AND stream_id = %s AND version = 2 RETURNING event_id",
            [program_id, member_id],
        ).fetchone()
        connection.commit()
    assert row is not None

    audit = replay(database_url, program_id)

    assert not audit.ok
    found = audit.discrepancies[0]
    assert (found.program_id, found.stream_id, found.version, found.kind) == (
        program_id,
        member_id,
        2,
        "hash_mismatch",
    )
    assert found.event_id == str(row[0])
