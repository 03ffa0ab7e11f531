"""Rewriting the log behind its triggers' back, as a superuser could, in the test run's own
database: what the audit exists to catch."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

_REHASH = """
UPDATE ledger.events AS event SET hash = sha256(
    coalesce(
        (SELECT previous.hash FROM ledger.events AS previous
         WHERE previous.program_id = event.program_id AND previous.stream_id = event.stream_id
            AND previous.version = event.version - 1),
        '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
    || convert_to(jsonb_build_object(
        'program_id', program_id, 'stream_id', stream_id, 'version', version,
        'event_id', event_id, 'event_type', event_type, 'schema_version', schema_version,
        'data', data, 'metadata', metadata,
        'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'balances_after', jsonb_build_object(
            'available', points_available, 'pending', points_pending,
            'held', points_held, 'lifetime_earned', points_lifetime_earned,
            'lifetime_redeemed', points_lifetime_redeemed, 'expired', points_expired))::text,
        'UTF8'))
WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s AND version = %(version)s
"""
"""A forger's step: the event's hash recomputed over its changed content, as
docs/HASH_CHAIN.md computes it."""


@contextmanager
def behind_the_triggers(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection whose changes skip the log's append-only triggers (a superuser's power),
    committed on leaving."""
    with psycopg.connect(database_url) as connection:
        connection.execute("SET session_replication_role = replica")
        yield connection


def event_ids(database_url: str, program_id: str, stream_id: str) -> dict[int, str]:
    """The stream's event ids by version."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT version, event_id::text FROM ledger.events"
            " WHERE program_id = %s AND stream_id = %s",
            [program_id, stream_id],
        ).fetchall()
    return dict(rows)


def rehash(
    connection: psycopg.Connection[Any], program_id: str, stream_id: str, version: int
) -> None:
    connection.execute(
        _REHASH, {"program_id": program_id, "stream_id": stream_id, "version": version}
    )


def rewrite_earning(
    connection: psycopg.Connection[Any],
    program_id: str,
    stream_id: str,
    version: int,
    extra_points: int,
) -> None:
    """A forger's whole job: the points earned by the event at `version` raised by
    `extra_points`, the balances stored on it and on every later event raised to match, every
    hash from there recomputed in turn and the state row brought along, so that the chain, the
    balances and the state row all agree with the forged history."""
    connection.execute(
        "UPDATE ledger.events SET data = jsonb_set(data, '{points}',"
        " to_jsonb((data->>'points')::bigint + %(extra)s))"
        " WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s"
        " AND version = %(version)s",
        {
            "program_id": program_id,
            "stream_id": stream_id,
            "version": version,
            "extra": extra_points,
        },
    )
    connection.execute(
        "UPDATE ledger.events SET points_available = points_available + %(extra)s,"
        " points_lifetime_earned = points_lifetime_earned + %(extra)s"
        " WHERE program_id = %(program_id)s AND stream_id = %(stream_id)s"
        " AND version >= %(version)s",
        {
            "program_id": program_id,
            "stream_id": stream_id,
            "version": version,
            "extra": extra_points,
        },
    )
    row = connection.execute(
        "SELECT max(version) FROM ledger.events WHERE program_id = %s AND stream_id = %s",
        [program_id, stream_id],
    ).fetchone()
    assert row is not None
    for later in range(version, row[0] + 1):
        rehash(connection, program_id, stream_id, later)
    connection.execute(
        "UPDATE ledger.streams AS state SET last_hash = head.hash,"
        " points_available = head.points_available,"
        " points_lifetime_earned = head.points_lifetime_earned"
        " FROM ledger.events AS head"
        " WHERE head.program_id = state.program_id AND head.stream_id = state.stream_id"
        " AND head.version = state.version"
        " AND state.program_id = %s AND state.stream_id = %s",
        [program_id, stream_id],
    )
