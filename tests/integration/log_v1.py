"""Every use of the ledger's internals by test_log_written_before.py and by the generator of
tests/fixtures/log_v1 (tests/fixtures/make_log_v1.py), in one place.

The fixture is a log written by the code of commit 17e3e96. When the ledger's internals move
(a port in front of the store, one codec, aggregate kinds, typed command results), this module
is adapted and the test beside it is not: what the test holds the code to is written in plain
data (the manifest, the rows of the fixture, the answers as today's JSON), never in terms of
the ledger's classes.
"""

import dataclasses
import enum
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger import bootstrap
from ledger.application import Ledger
from ledger.audit.replay import replay
from ledger.codec import responses
from ledger.codec.chain import GENESIS_HASH, canonical_json, hash_of
from ledger.codec.requests import content_hash as request_content_hash
from ledger.domain import commands
from ledger.domain.decisions import Target
from ledger.domain.errors import LedgerError
from ledger.domain.kinds import member_of
from ledger.domain.settings import EarnRate, NegativeBalancePolicy, ProgramSettings
from ledger.eventlog.records import EventRecord, Position
from ledger.requests import Request

FIXTURE = Path(__file__).parents[1] / "fixtures" / "log_v1"

Entry = dict[str, Any]
"""One stored request as the manifest spells it: request_id, program_id, stream_id,
destination_stream_id, actor, trace_id and command: {type, fields}. `fields` are the command's
fields as the request content hash covers them (enums as their values, tuples as lists)."""

Answer = dict[str, Any]
"""A command's answer in plain data: {events, accounts, program} as the v1 ledger stored it in
ledger.requests.response (events: the ones the request appended, read back from the log, as
{stream_id, version, event_type, data}), plus {result}: the typed result the ledger answers
now, as {type, <its fields>}."""

# --- the fixture's tables ---------------------------------------------------------------------

# transaction_id and position are left out of the fixture: the database assigns them as the
# rows are loaded (in file order, which is the order the log was written in).
LOAD_EVENTS = """
COPY ledger.events (
    program_id, stream_id, version, event_id, event_type, schema_version, data, metadata,
    recorded_at, points_available, points_pending, points_held, points_lifetime_earned,
    points_lifetime_redeemed, points_expired, hash
) FROM STDIN
"""
LOAD_STREAMS = """
COPY ledger.streams (
    program_id, stream_id, version, last_hash, state, points_available, points_pending,
    points_held, points_lifetime_earned, points_lifetime_redeemed, points_expired, next_due_at,
    created_at, updated_at
) FROM STDIN
"""
LOAD_REQUESTS = """
COPY ledger.requests (
    program_id, stream_id, request_id, request_hash, response, recorded_at
) FROM STDIN
"""
LOADS = (
    ("events.copy", LOAD_EVENTS),
    ("streams.copy", LOAD_STREAMS),
    ("requests.copy", LOAD_REQUESTS),
)


def database_server() -> str:
    """$DATABASE_URL when set, else the checkout's embedded PostgreSQL (for the generator;
    tests use the `server_url` fixture)."""
    return bootstrap.database_url()


def migrate_database(url: str) -> None:
    bootstrap.migrate(url)


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, migrated, empty database of its own, dropped on the way out."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(server_url, dbname=name)
        migrate_database(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


FIXTURE_SCHEMA = "0006_projections.sql"
"""The last migration of the schema the fixture's rows were written under (later ones
change what existing rows mean: 0007 links the accounts' member ids to keys)."""


@contextmanager
def database_with_fixture(server_url: str, prefix: str) -> Iterator[str]:
    """A new database holding the fixture's rows, upgraded the way a deployment is: its rows
    loaded under the schema they were written under, then the later migrations applied."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(server_url, dbname=name)
        bootstrap.migrate(url, until=FIXTURE_SCHEMA)
        load_fixture(url)
        bootstrap.migrate(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def load_fixture(url: str, folder: Path = FIXTURE) -> None:
    """The fixture's rows, byte for byte, into the (empty, migrated) database at `url`."""
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for file_name, statement in LOADS:
            with cursor.copy(statement) as copy:
                copy.write((folder / file_name).read_bytes())


# --- commands from the manifest ---------------------------------------------------------------

_COMMANDS: dict[str, type[commands.Command]] = {
    kind.__name__: kind
    for kind in (
        commands.CreateProgram,
        commands.UpdateProgram,
        commands.Enroll,
        commands.RecordPurchase,
        commands.ConfirmOrder,
        commands.RefundPurchase,
        commands.EarnPoints,
        commands.AdjustPoints,
        commands.RedeemPoints,
        commands.ReservePoints,
        commands.CommitReservation,
        commands.CancelReservation,
        commands.TransferPoints,
        commands.ImportHistory,
    )
}


def _settings(fields: dict[str, Any]) -> ProgramSettings:
    values = dict(fields)
    values["earn_rates"] = tuple(EarnRate(**rate) for rate in values["earn_rates"])
    values["negative_balance_policy"] = NegativeBalancePolicy(values["negative_balance_policy"])
    return ProgramSettings(**values)


def _command(kind: str, fields: dict[str, Any]) -> commands.Command:
    values = dict(fields)
    if "settings" in values:
        values["settings"] = _settings(values["settings"])
    if "entries" in values:
        values["entries"] = tuple(commands.HistoricalEntry(**item) for item in values["entries"])
    return _COMMANDS[kind](**values)


def request_of(entry: Entry) -> Request:
    return Request(
        Target(entry["program_id"], member_of(entry["stream_id"])),
        _command(entry["command"]["type"], entry["command"]["fields"]),
        entry["request_id"],
        actor=entry["actor"],
        trace_id=entry["trace_id"],
    )


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def entry_of(request: Request) -> Entry:
    """The manifest's spelling of `request`: request_of(entry_of(r)) == r."""
    command = request.command
    return {
        "request_id": request.request_id,
        "program_id": request.target.program_id,
        "stream_id": request.target.stream[1],
        "destination_stream_id": command.destination_member_id
        if isinstance(command, commands.TransferPoints)
        else None,
        "actor": request.actor,
        "trace_id": request.trace_id,
        "command": {"type": type(request.command).__name__, "fields": _plain(request.command)},
    }


def content_hash(entry: Entry) -> bytes:
    """The request content hash of the manifest's request, as the ledger computes it now."""
    request = request_of(entry)
    return request_content_hash(request.target, request.command)


def command_types() -> list[str]:
    """Every command a stored request can carry (Sweep is the ledger's own, never stored)."""
    return sorted(_COMMANDS)


# --- the ledger on a database -----------------------------------------------------------------


class LedgerSession:
    """A ledger started on a database, spoken to in the manifest's terms."""

    def __init__(self, ledger: Ledger, url: str) -> None:
        self._ledger = ledger
        self._url = url

    async def execute(self, entry: Entry) -> Answer:
        outcome = await self._ledger.execute(request_of(entry))
        answer = responses.encode(outcome)
        return {
            "events": await self._appended(entry),
            "accounts": answer["accounts"],
            "program": answer["program"],
            "result": answer["result"],
        }

    async def _appended(self, entry: Entry) -> list[dict[str, Any]]:
        """The events appended under the entry's request id to its stream (and to a transfer's
        destination), as v1 answers listed them."""
        streams = [entry["stream_id"], entry["destination_stream_id"] or entry["stream_id"]]
        async with await psycopg.AsyncConnection.connect(self._url) as connection:
            cursor = await connection.execute(
                "SELECT stream_id, version, event_type, data FROM ledger.events"
                " WHERE program_id = %s AND stream_id = ANY(%s)"
                " AND metadata ->> 'request_id' = %s ORDER BY transaction_id, position",
                [entry["program_id"], streams, entry["request_id"]],
            )
            rows = await cursor.fetchall()
        return [
            {"stream_id": row[0], "version": row[1], "event_type": row[2], "data": row[3]}
            for row in rows
        ]

    async def refusal(self, entry: Entry) -> str:
        """The reason code the ledger refuses `entry` with (fails if it is accepted)."""
        try:
            await self._ledger.execute(request_of(entry))
        except LedgerError as error:
            return error.reason
        raise AssertionError(f"{entry['request_id']} was accepted")

    async def sweep(self) -> int:
        """Appends what is due now, as the sweep does; the number of events appended."""
        return await self._ledger.sweep()

    async def account(self, program_id: str, member_id: str) -> dict[str, Any]:
        """The account as GetAccount reads it from its state row (AccountView as data)."""
        view = await self._ledger.get_account(program_id, member_id, "name")
        return responses.account_data(view)

    async def program_revision(self, program_id: str) -> int:
        view = await self._ledger.get_program(program_id, "name")
        return view.state.revision


@asynccontextmanager
async def open_ledger(url: str, now: Callable[[], datetime]) -> AsyncIterator[LedgerSession]:
    # One shard: requests sent one after another are appended in that order, so the
    # generator writes the same log on every run.
    async with bootstrap.postgres_ledger(
        url, now, shards=1, pool_min_size=1, pool_max_size=2
    ) as ledger:
        yield LedgerSession(ledger, url)


# --- audit ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Audit:
    ok: bool
    streams: int
    events: int
    discrepancies: list[str]
    final_balances: dict[tuple[str, str], dict[str, int]]
    """Per account stream, the balances recomputed from its events, by Balances' names."""


def audit(url: str) -> Audit:
    """Today's finance audit (ledger.audit.replay) of the whole database."""
    result = replay(url, keep_balances=True)
    return Audit(
        ok=result.ok,
        streams=result.streams,
        events=result.events,
        discrepancies=[str(found) for found in result.discrepancies],
        final_balances={
            key: dataclasses.asdict(balances) for key, balances in result.final_balances.items()
        },
    )


@dataclasses.dataclass(frozen=True)
class Rehashed:
    program_id: str
    stream_id: str
    version: int
    event_type: str
    stored_hash: bytes
    recomputed_hash: bytes
    """SHA-256 of the stored hash before it in its stream and the writer's canonical text of
    the record as read back."""


async def rehash_stored_events(url: str) -> list[Rehashed]:
    """Every stored event read back through the store, with the hash the writer's canonical
    text (ledger/codec/chain.py) gives it, stream by stream in version order."""
    records: list[EventRecord] = []
    async with bootstrap.postgres_ledger(url, _no_clock, pool_min_size=1) as ledger:
        after = Position()
        while batch := await ledger.read_all(after, 1_000):
            records += batch
            after = Position.of(batch[-1])
    records.sort(key=lambda record: (record.program_id, record.stream_id, record.version))
    found: list[Rehashed] = []
    previous = GENESIS_HASH
    for index, record in enumerate(records):
        if record.version == 1:
            previous = GENESIS_HASH
        else:
            before = records[index - 1]
            assert (before.program_id, before.stream_id, before.version) == (
                record.program_id,
                record.stream_id,
                record.version - 1,
            ), f"{record.program_id}/{record.stream_id} has a gap before {record.version}"
        found.append(
            Rehashed(
                record.program_id,
                record.stream_id,
                record.version,
                record.event_type,
                record.hash,
                hash_of(previous, canonical_json(record)),
            )
        )
        previous = record.hash
    return found


def _no_clock() -> datetime:
    raise AssertionError("reading the log needs no time")
