"""The database's own ceilings, measured from the same client in the same run: a raw
multi-row INSERT of rows like ours, and a raw COPY of the log to the client."""

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime

import psycopg
from psycopg import sql

ROWS_PER_STATEMENT = 1_000
RAW_TABLE = "bench_raw_events"

_COLUMNS = (
    "program_id",
    "stream_id",
    "version",
    "event_id",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
    "points_available",
    "points_pending",
    "points_held",
    "points_lifetime_earned",
    "points_lifetime_redeemed",
    "points_expired",
    "hash",
)


def _row(stream: int, version: int) -> tuple[object, ...]:
    data = {
        "external_id": f"ext-{stream}-{version}",
        "kind": "purchase",
        "points_delta_imported": 10,
        "occurred_at": "2026-01-01T00:00:00.000000Z",
        "expires_on": None,
        "taken": [],
        "negative_points": 0,
    }
    metadata = {
        "request_id": str(uuid.uuid4()),
        "actor": "bench",
        "trace_id": "",
        "command": "ImportHistory",
    }
    return (
        "raw",
        f"member-{stream}",
        version,
        uuid.uuid4(),
        "HistoryImported",
        1,
        json.dumps(data),
        json.dumps(metadata),
        datetime.now(UTC),
        10 * version,
        0,
        0,
        10 * version,
        0,
        0,
        hashlib.sha256(f"{stream}/{version}".encode()).digest(),
    )


def raw_insert_rate(conninfo: str, statements: int) -> dict[str, float]:
    """Rows per second of plain multi-row INSERTs into a table shaped like ledger.events
    (same columns, keys and indexes, no trigger), 1,000 rows a statement."""
    placeholders = sql.SQL("({})").format(
        sql.SQL(", ").join(
            sql.SQL("%s::jsonb") if name in {"data", "metadata"} else sql.Placeholder()
            for name in _COLUMNS
        )
    )
    statement = sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
        sql.Identifier(RAW_TABLE),
        sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        sql.SQL(", ").join([placeholders] * ROWS_PER_STATEMENT),
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE ledger.events INCLUDING DEFAULTS INCLUDING INDEXES)"
            ).format(sql.Identifier(RAW_TABLE))
        )
        started = time.perf_counter()
        for index in range(statements):
            rows = [_row(index * ROWS_PER_STATEMENT + n, 1) for n in range(ROWS_PER_STATEMENT)]
            connection.execute(statement, [value for row in rows for value in row])
        elapsed = time.perf_counter() - started
        connection.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(RAW_TABLE)))
    rows_written = statements * ROWS_PER_STATEMENT
    return {"rows": rows_written, "seconds": elapsed, "per_second": rows_written / elapsed}


def copy_rate(conninfo: str) -> dict[str, float]:
    """Events per second of a raw COPY of the whole log to this client (bytes received, not
    parsed): the fastest the log can leave the database."""
    with psycopg.connect(conninfo) as connection:
        count = connection.execute("SELECT count(*) FROM ledger.events").fetchone()
        assert count is not None
        received = 0
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy("COPY ledger.events TO STDOUT") as copy:
            for block in copy:
                received += len(block)
        elapsed = time.perf_counter() - started
    rows = int(count[0])
    return {"rows": rows, "bytes": received, "seconds": elapsed, "per_second": rows / elapsed}
