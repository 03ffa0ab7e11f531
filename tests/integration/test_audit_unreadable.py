"""The replaying commands on a database they cannot read audit nothing and say so apart from a
discrepancy: exit status 3 and one line naming the reason, with PostgreSQL's own words, never
a traceback and exit status 1 (which a scheduled audit takes for a fault in the ledger)."""

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

COMMANDS = {
    "audit": ["audit"],
    "audit report": ["audit", "--report", "json"],
    "what-if": [
        *("what-if", "--program", "p", "--revision", "1"),
        *("--from", "2026-01-01", "--to", "2026-02-01"),
    ],
}


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
