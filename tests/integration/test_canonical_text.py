"""The canonical text writers hash is byte for byte what PostgreSQL prints, so the audit
(and any auditor with plain SQL) recomputes the very bytes that were hashed."""

import psycopg
from psycopg.types.json import Jsonb

from ledger.store.chain import canonical_json, jsonb_text
from ledger.store.eventstore import event_record
from ledger.store.sql import query
from tests.conftest import FakeClock
from tests.integration.ledgers import new_member, new_program, running_ledger

TRICKY = [
    {"b": 1, "a": [1, {"zz": None, "y": True}], "aa": {}, "e": [], "n": -(2**63) + 1},
    {"text": 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f'},
    {"text": "é ü 日本語 😀 \u2028 \u200f rtl \u0301 combining"},
    {"ключ": "значение", "k": "v", "kk": "vv", "é": 1},
]


def test_python_renders_json_exactly_as_postgresql_prints_jsonb(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        for value in TRICKY:
            row = connection.execute("SELECT %s::jsonb::text", [Jsonb(value)]).fetchone()
            assert row is not None
            assert jsonb_text(value) == row[0]


async def test_the_canonical_text_of_stored_events_is_what_the_audit_query_renders(
    database_url: str, clock: FakeClock
) -> None:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        await new_member(ledger, program_id, points=42)
    with psycopg.connect(database_url) as connection:
        stored = connection.execute(
            query("read_stream"),
            {"program_id": program_id, "stream_id": "$program", "after_version": 0, "limit": 10},
        ).fetchall()
        rendered = connection.execute(
            query("audit_events"), {"program_id": program_id, "part": 0, "parts": 1}
        ).fetchall()
    by_version = {(row[1], row[2]): row[-1] for row in rendered}
    assert stored and len(rendered) == 3
    for row in stored:
        record = event_record(row)
        assert canonical_json(record) == by_version[(record.stream_id, record.version)]
