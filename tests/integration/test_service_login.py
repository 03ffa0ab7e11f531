"""The service's database login can read and append, and nothing more: it cannot turn the
append-only triggers off, change an event, or set a balance by hand, and has no role to
escape to. Shown on the embedded default (the login `make run` sets up) and on a server
provisioned as README "Database roles" says, each in a fresh database of its own."""

import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger import bootstrap
from ledger.store.embedded import SERVICE_LOGIN, service_login_url
from tests.conftest import FakeClock, unique
from tests.integration.ledgers import member_key, new_member, new_program, running_ledger

MACHINE_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The machine's PostgreSQL (CI's too): the server case."""
SERVER_LOGIN_PASSWORD = "service-login-password"


def _embedded_server() -> str:
    from ledger.store.embedded import default_data_dir, start_embedded_postgres

    return start_embedded_postgres(default_data_dir())


def _provision_as_the_readme_says(owner_url: str) -> str:
    """README "Database roles": the login, a member of loyalty_ledger_app only."""
    with psycopg.connect(owner_url, autocommit=True) as connection:
        # Roles are the server's, not the database's: another run may have made it.
        with contextlib.suppress(pg_errors.DuplicateObject):
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(SERVICE_LOGIN))
            )
        connection.execute(
            sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(SERVICE_LOGIN), sql.Literal(SERVER_LOGIN_PASSWORD)
            )
        )
        connection.execute(
            sql.SQL("GRANT loyalty_ledger_app TO {}").format(sql.Identifier(SERVICE_LOGIN))
        )
    return make_conninfo(owner_url, user=SERVICE_LOGIN, password=SERVER_LOGIN_PASSWORD)


@pytest.fixture(params=["embedded", "server"])
def logins(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(owner's URL, service login's URL) of a fresh, migrated database."""
    server = _embedded_server() if request.param == "embedded" else MACHINE_SERVER
    name = unique("loyalty_test_login").replace("-", "_")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner_url = make_conninfo(server, dbname=name)
    try:
        bootstrap.migrate(owner_url)
        if request.param == "embedded":
            service_url = service_login_url(owner_url)
        else:
            service_url = _provision_as_the_readme_says(owner_url)
        yield owner_url, service_url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


REFUSED = [
    "ALTER TABLE ledger.events DISABLE TRIGGER events_no_update_or_delete",
    "ALTER TABLE ledger.events DISABLE TRIGGER ALL",
    "SET session_replication_role = replica",
    "UPDATE ledger.events SET data = data WHERE program_id = %(program)s",
    "UPDATE ledger.streams SET points_available = points_available + 1000000"
    " WHERE program_id = %(program)s",
    "INSERT INTO ledger.streams SELECT * FROM ledger.streams WHERE false",
    "UPDATE ledger.requests SET response = response WHERE program_id = %(program)s",
    "DROP TRIGGER events_no_update_or_delete ON ledger.events",
    "SET ROLE postgres",
]


async def test_the_service_login_appends_but_cannot_change_the_log_or_a_balance(
    logins: tuple[str, str], clock: FakeClock
) -> None:
    owner_url, service_url = logins
    # The service works with it: it appends through the one function it may call.
    async with running_ledger(service_url, clock) as ledger:
        program_id = await new_program(ledger)
        member_id = await new_member(ledger, program_id, points=300)
    key = member_key(owner_url, program_id, member_id)

    refusals = {}
    with psycopg.connect(service_url, autocommit=True) as connection:
        for statement in REFUSED:
            with pytest.raises(psycopg.Error) as refused:
                connection.execute(statement, {"program": program_id})
            refusals[statement] = refused.value
        # No way out: the login is itself the restricted role.
        connection.execute("RESET ROLE")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            connection.execute(
                "UPDATE ledger.streams SET points_available = 0 WHERE program_id = %s",
                [program_id],
            )
        balance = connection.execute(
            "SELECT points_available FROM ledger.streams WHERE program_id = %s AND stream_id = %s",
            [program_id, key],
        ).fetchone()

    assert {type(error) for error in refusals.values()} == {pg_errors.InsufficientPrivilege}
    assert balance == (300,)
    assert bootstrap.privileged_login(service_url) == []
    assert bootstrap.privileged_login(owner_url) != []
