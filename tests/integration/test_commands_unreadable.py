"""Commands on a database they cannot read say so in one line naming the reason, with
PostgreSQL's own words, and exit status 3: never a traceback, and for the replaying commands
never exit status 1, which a scheduled audit takes for a discrepancy in the ledger."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from ledger.eventlog.errors import StoreUnavailable
from ledger.store.audit_reader import exported_snapshot
from ledger.store.checkpoints import log_snapshot
from ledger.store.pool import make_pool, open_pool

COMMANDS = {
    "audit": ["audit"],
    "audit report": ["audit", "--report", "json"],
    "what-if": [
        *("what-if", "--program", "p", "--revision", "1"),
        *("--from", "2026-01-01", "--to", "2026-02-01"),
    ],
    "projections status": ["projections", "status"],
}
"""(`sweep` and `read-horizon` go through the ledger's pool, which waits 30 s for the database
first: open_pool is tested below with a shorter wait.)"""


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_database_that_cannot_be_read_exits_3_naming_it(
    server_url: str, command: list[str]
) -> None:
    missing = f"loyalty_missing_{uuid.uuid4().hex[:12]}"  # never created: nothing is touched
    done = subprocess.run(  # noqa: S603 - our own entry point
        [str(Path(sys.executable).parent / "loyalty-ledger"), *command],
        env={**os.environ, "DATABASE_URL": make_conninfo(server_url, dbname=missing)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    refusal = json.loads(line)
    assert refusal["reason"] == "STORE_UNAVAILABLE"
    assert missing in refusal["message"], "PostgreSQL's own words, naming the database"


def test_a_connection_lost_while_reading_is_the_store_unavailable(database_url: str) -> None:
    with pytest.raises(StoreUnavailable, match="terminat"), exported_snapshot(database_url) as held:
        held._connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    with pytest.raises(StoreUnavailable, match="terminat"), log_snapshot(database_url) as log:
        log._connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")


async def test_a_pool_that_cannot_open_names_postgresqls_reason(server_url: str) -> None:
    missing = f"loyalty_missing_{uuid.uuid4().hex[:12]}"
    pool = make_pool(make_conninfo(server_url, dbname=missing), min_size=1, max_size=1)
    with pytest.raises(StoreUnavailable, match=missing):
        await open_pool(pool, wait=True, timeout_seconds=1.0)
    assert pool.closed
