"""The log's global order is numeric in the transaction id, across a change in its number of
digits: a follower reading after 99 gets 99's events before 100's, and the head is 100's.
(Ordered by the id's text, 100 sorts before 99: a page would take 100's events, move its
checkpoint past them, and never see 99's.)"""

from collections.abc import Iterator

import psycopg
import pytest

from ledger import bootstrap
from ledger.eventlog.records import Position
from ledger.store.sql import query
from tests.conftest import FakeClock
from tests.integration.log_v1 import fresh_database

_EVENT = """
INSERT INTO ledger.events (
    program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash, transaction_id, position
)
VALUES ('digits', %(stream)s::text, 1, gen_random_uuid(), 'PointsEarned', 1,
    jsonb_build_object('points', 1, 'reason', 'digits', 'expires_on', NULL,
        'program_revision', 1),
    jsonb_build_object('request_id', %(stream)s::text, 'actor', 'test', 'trace_id', '',
        'command', 'EarnPoints'),
    now(), 1, 0, 0, 1, 0, 0, sha256(convert_to(%(stream)s::text, 'UTF8')),
    %(transaction)s::xid8, %(position)s)
"""
EVENTS = [(99, 1), (99, 2), (99, 3), (100, 4), (100, 5), (100, 6)]
"""(transaction id, position): two transactions, the second's id one digit longer."""


@pytest.fixture
def log_across_digits(server_url: str) -> Iterator[str]:
    """A database of its own: its rows are written in SQL, with no chain an audit could
    verify, and transaction ids long past (below every snapshot's horizon)."""
    with fresh_database(server_url, "digits") as url:
        with psycopg.connect(url, autocommit=True) as connection:
            for transaction, position in EVENTS:
                connection.execute(
                    _EVENT,
                    {
                        "stream": f"s-{position}",
                        "transaction": str(transaction),
                        "position": position,
                    },
                )
        yield url


async def test_followers_read_the_shorter_transaction_id_first(log_across_digits: str) -> None:
    async with bootstrap.postgres_ledger(log_across_digits, FakeClock()) as ledger:
        first_page = await ledger.log.read_all(Position(), limit=3)
        last = first_page[-1]
        rest = await ledger.log.read_all(Position(last.transaction_id, last.position), limit=10)
        head = await ledger.log.head()

    assert [(record.transaction_id, record.position) for record in first_page + rest] == EVENTS
    assert head == Position(100, 6)


def test_a_stage_view_page_takes_the_shorter_transaction_id_first(
    log_across_digits: str,
) -> None:
    with psycopg.connect(log_across_digits) as connection:
        rows = connection.execute(
            query("stage_page_events"),
            {
                "read_types": [],
                "after_transaction": "0",
                "after_position": 0,
                "upto_transaction": "1000",
                "upto_position": 0,
                "limit": 3,
            },
        ).fetchall()

    assert [(int(row[7]), row[8]) for row in rows] == EVENTS[:3]
