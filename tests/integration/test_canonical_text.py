"""The canonical text is one text, however it is rendered: by writers from their fields, by
the replay from the column texts PostgreSQL prints, and by an auditor with the SQL of
docs/HASH_CHAIN.md. Each of them recomputes the very bytes that were hashed."""

import re
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from ledger.audit.replay import replay
from ledger.codec.chain import jsonb_text
from ledger.domain.commands import AdjustPoints
from ledger.domain.decisions import Target
from ledger.requests import Request
from tests.conftest import FakeClock, request_id
from tests.integration.ledgers import new_member, new_program, running_ledger

TRICKY = [
    {"b": 1, "a": [1, {"zz": None, "y": True}], "aa": {}, "e": [], "n": -(2**63) + 1},
    {"text": 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f'},
    {"text": "é ü 日本語 😀 \u2028 \u200f rtl \u0301 combining"},
    {"ключ": "значение", "k": "v", "kk": "vv", "é": 1},
]
NOTES = [
    'quote " backslash \\ newline \n tab \t del \x7f',
    "é ü 日本語 😀 \u2028 \u200f rtl \u0301 combining",
    "ключ: значение",
]
AUDITOR_SQL = re.search(
    r"```sql\n(.*?)```",
    (Path(__file__).parents[2] / "docs" / "HASH_CHAIN.md").read_text("utf-8"),
    re.DOTALL,
)


def test_python_renders_json_exactly_as_postgresql_prints_jsonb(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        for value in TRICKY:
            row = connection.execute("SELECT %s::jsonb::text", [Jsonb(value)]).fetchone()
            assert row is not None
            assert jsonb_text(value) == row[0]


async def test_writers_the_replay_and_the_auditors_sql_agree_on_every_hash(
    database_url: str, clock: FakeClock
) -> None:
    async with running_ledger(database_url, clock) as ledger:
        program_id = await new_program(ledger)
        member_id = await new_member(ledger, program_id, points=42)
        for index, note in enumerate(NOTES):
            await ledger.execute(
                Request(
                    Target(program_id, member_id),
                    AdjustPoints(index + 1, "goodwill", note, f"agent-{index}"),
                    request_id(),
                )
            )

    audit = replay(database_url, program_id)

    assert audit.ok, audit.discrepancies
    assert audit.events == 6
    assert AUDITOR_SQL is not None, "docs/HASH_CHAIN.md lost its SQL"
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(AUDITOR_SQL.group(1)).fetchall()
    ours = [row for row in rows if row[0] == program_id]
    assert len(ours) == 6
    assert all(row[-1] is True for row in ours)
