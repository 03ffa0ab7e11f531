"""PostgreSQL sessions for projection runners and rebuilds (ledger/projections/ports.py).

Each session owns one connection of its own, outside the service's pool: a runner holds a
session-level advisory lock for as long as it leads, and every page it applies goes through
that same connection. If the connection dies, PostgreSQL rolls back its open page and then
releases its lock, in that order, so whoever takes the lock next starts from a checkpoint
that nobody is still moving. The checkpoint's compare-and-set (queries/projection_page.sql)
is the second line: even two writers of one slot would be serialized on its row, and the
loser's page undone.
"""

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection, sql
from psycopg import errors as pg_errors

from ledger.domain.events import TierChanged
from ledger.eventlog.records import Position
from ledger.projections.catalog import SLOTS, Projection
from ledger.projections.ports import Page, SlotStatus
from ledger.projections.rebuild import RebuildBusy
from ledger.projections.streams import HOUSEKEEPING_COMMANDS, non_account_prefix
from ledger.store.errors import translate, translated_for_operators
from ledger.store.sql import query
from ledger.store.stage_pages import StagePages, wall_clock

RUNNER_LOCK_NAMESPACE = 0x4C4C5052
"""First key of a runner's advisory lock ("LLPR"); the second is the projection's key."""
REBUILD_LOCK_NAMESPACE = 0x4C4C5042
"""First key of a rebuild's advisory lock ("LLPB")."""
STATEMENT_TIMEOUT_MS = 60_000
"""No page, count or swap statement runs longer (a page takes well under a second)."""
KEEPALIVE_OPTIONS = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
)
"""The server drops the connection of a runner whose host vanished (no FIN, no RST) within
about 25 s, which frees its lock for a standby. A runner that is killed closes its socket,
and the lock is free at once."""
ASYNCHRONOUS_COMMIT = "-c synchronous_commit=off"
"""A page's commit does not wait for its WAL to reach disk: if PostgreSQL itself crashes, the
last pages may be lost, but each together with its checkpoint, so the runner applies them
again to the same rows (a reader may see the view step back a moment, then forward). Commits
stay atomic and in order; only their durability is deferred, which saves a flush per page."""
SWAP_LOCK_TIMEOUT = "5s"
"""A swap waits this long for the live runner's page in progress, then tries again later."""
TRUNCATE_LOCK_TIMEOUT = "1s"
"""Emptying the standby waits this long for queries still reading the view (which lock both
slots), then tries again: queries that arrive meanwhile wait behind it."""
MAX_TRUNCATE_ATTEMPTS = 30
MAX_CHECKPOINT_RELOADS = 3
"""Times a page is retried from a fresh checkpoint after losing the compare-and-set (a swap
moved the live slot) before that is reported as the bug it would be."""
MAX_COUNTED_BEHIND = 100_000
"""events_behind counts up to this many; beyond, it says "at least"."""
END_OF_LOG = Position(2**64 - 1, 2**63 - 1)
"""An upper bound past every event: the largest xid8 and bigint."""


def lock_key(projection: str) -> int:
    """The projection's advisory lock key: a stable positive 32-bit hash of its name."""
    return zlib.crc32(projection.encode()) & 0x7FFF_FFFF


async def connect(conninfo: str, role: str | None, purpose: str) -> AsyncConnection[Any]:
    """A connection of the runners, rebuilds and status reads (operators see their errors,
    with PostgreSQL's words, in logs and on the command line)."""
    with translated_for_operators():
        connection = await AsyncConnection.connect(
            conninfo,
            autocommit=True,
            options=(
                f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
                f" {ASYNCHRONOUS_COMMIT} {KEEPALIVE_OPTIONS}"
            ),
            application_name=f"loyalty-ledger {purpose}"[:63],
        )
        if role:
            await connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return connection


def _position(transaction_id: str, position: int) -> Position:
    return Position(int(transaction_id), position)


def _key(position: Position) -> tuple[int, int]:
    return (position.transaction_id, position.position)


@dataclass(frozen=True)
class _Checkpoint:
    slot: str
    position: Position


class PageStatements:
    """A projection's page statement, composed once per slot: the fixed page of
    queries/projection_page.sql around the projection's own file, writing to the slot's
    table (the one piece of SQL that varies, composed as an identifier)."""

    def __init__(self, projection: Projection, runner: str) -> None:
        package = resources.files(projection.apply_package)
        fragment = package.joinpath(projection.apply_path).read_text("utf-8")
        prelude = (
            package.joinpath(projection.prelude_path).read_text("utf-8")
            if projection.prelude_path
            else ""
        )
        page = query("projection_page")
        self._projection = projection
        self._runner = runner
        self._statements = {}
        for slot in SLOTS:
            tables = {
                "view": sql.Identifier("ledger", projection.table(slot)),
                **{
                    part: sql.Identifier("ledger", projection.part_table(part, slot))
                    for part in projection.parts
                },
            }
            self._statements[slot] = sql.SQL(page).format(
                prelude=sql.SQL(prelude).format(**tables),
                apply=sql.SQL(fragment).format(**tables),
            )

    async def apply(
        self,
        connection: AsyncConnection[Any],
        *,
        slot: str,
        live: bool,
        after: Position,
        limit: int,
        upto: Position = END_OF_LOG,
    ) -> Page | None:
        """The page applied and committed, or None (and nothing changed) if the checkpoint
        was not at `after` or the slot no longer live (or standby) as `live` says."""
        parameters = {
            "projection": self._projection.name,
            "slot": slot,
            "live": live,
            "runner": self._runner,
            "after_transaction": str(after.transaction_id),
            "after_position": after.position,
            "upto_transaction": str(upto.transaction_id),
            "upto_position": upto.position,
            "limit": limit,
            "non_account_prefix": non_account_prefix(),
            "housekeeping_commands": list(HOUSEKEEPING_COMMANDS),
            "tier_changed_type": TierChanged.event_type,
        }
        lost = False
        async with connection.transaction():
            cursor = await connection.execute(self._statements[slot], parameters)
            row = await cursor.fetchone()
            assert row is not None
            events, advanced, last_transaction, last_position, held_back = row
            if events and advanced != 1:
                lost = True
                raise psycopg.Rollback()
        if lost:
            return None
        last = _position(last_transaction, last_position) if events else None
        assert last is None or _key(last) > _key(after), (after, last)
        return Page(events=events, last=last, held_back=held_back)


def page_writer(
    projection: Projection, runner: str, now: Callable[[], datetime]
) -> "PageStatements | StagePages":
    """How pages of `projection` are applied: its one statement, or its fold (catalog.py);
    `now` is the clock of the stage view's lapses."""
    if projection.folded:
        return StagePages(runner, now)
    return PageStatements(projection, runner)


async def _fetch_all(
    connection: AsyncConnection[Any], name: str, parameters: dict[str, Any]
) -> list[Any]:
    cursor = await connection.execute(query(name), parameters)
    return await cursor.fetchall()


async def _checkpoint(
    connection: AsyncConnection[Any], projection: str, *, live: bool
) -> _Checkpoint:
    rows = await _fetch_all(
        connection, "projection_checkpoint", {"projection": projection, "live": live}
    )
    assert len(rows) == 1, f"{projection} has {len(rows)} checkpoint rows with live={live}"
    slot, transaction_id, position = rows[0]
    return _Checkpoint(slot, _position(transaction_id, position))


async def _try_lock(connection: AsyncConnection[Any], namespace: int, projection: str) -> bool:
    rows = await _fetch_all(
        connection,
        "projection_try_lock",
        {"namespace": namespace, "key": lock_key(projection)},
    )
    return bool(rows[0][0])


async def slot_statuses(
    connection: AsyncConnection[Any], projections: list[str]
) -> list[SlotStatus]:
    rows = await _fetch_all(
        connection,
        "projection_status",
        {
            "projections": projections,
            "lock_keys": [lock_key(name) for name in projections],
            "lock_namespace": RUNNER_LOCK_NAMESPACE,
            "max_counted": MAX_COUNTED_BEHIND,
        },
    )
    return [
        SlotStatus(
            projection=row[0],
            slot=row[1],
            live=row[2],
            checkpoint=_position(row[3], row[4]),
            events_applied=row[5],
            newest_applied_time=row[6],
            runner=row[7],
            updated_at=row[8],
            newest_in_log=_position(row[9], row[10]) if row[9] is not None else None,
            newest_in_log_time=row[11],
            events_behind=row[12],
            events_behind_capped=row[12] >= MAX_COUNTED_BEHIND,
            runner_active=row[13],
        )
        for row in rows
    ]


async def read_statuses(
    conninfo: str, projections: list[str], role: str | None = None
) -> list[SlotStatus]:
    """slot_statuses on a connection of its own (for `loyalty-ledger projections status`)."""
    connection = await connect(conninfo, role, "status")
    try:
        return await slot_statuses(connection, projections)
    except psycopg.Error as error:
        raise translate(error) from error
    finally:
        await connection.close()


class PostgresRunnerSession:
    """ledger.projections.ports.RunnerSession on one connection of its own."""

    def __init__(
        self,
        connection: AsyncConnection[Any],
        projection: Projection,
        runner: str,
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._connection = connection
        self._projection = projection
        self._pages = page_writer(projection, runner, now)
        self._leading = False
        self._checkpoint: _Checkpoint | None = None

    @classmethod
    async def open(
        cls,
        conninfo: str,
        projection: Projection,
        *,
        runner: str,
        role: str | None = None,
        now: Callable[[], datetime] = wall_clock,
    ) -> Self:
        connection = await connect(conninfo, role, f"projection {projection.name}")
        try:
            await connection.execute(query("projection_ensure"), {"projection": projection.name})
        except psycopg.Error as error:
            await connection.close()
            raise translate(error) from error
        return cls(connection, projection, runner, now)

    async def try_lead(self) -> bool:
        if not self._leading:
            try:
                self._leading = await _try_lock(
                    self._connection, RUNNER_LOCK_NAMESPACE, self._projection.name
                )
            except psycopg.Error as error:
                raise translate(error) from error
        return self._leading

    async def apply_page(self, limit: int) -> Page:
        assert self._leading, "only the runner holding the lock writes"
        try:
            for _ in range(MAX_CHECKPOINT_RELOADS):
                if self._checkpoint is None:
                    self._checkpoint = await _checkpoint(
                        self._connection, self._projection.name, live=True
                    )
                checkpoint = self._checkpoint
                page = await self._pages.apply(
                    self._connection,
                    slot=checkpoint.slot,
                    live=True,
                    after=checkpoint.position,
                    limit=limit,
                    upto=END_OF_LOG,
                )
                if page is None:
                    self._checkpoint = None  # a rebuild swapped the slots: read the new one
                    continue
                if page.last is not None:
                    self._checkpoint = _Checkpoint(checkpoint.slot, page.last)
                return page
        except psycopg.Error as error:
            self._checkpoint = None
            raise translate(error) from error
        raise AssertionError(f"{self._projection.name}: the live checkpoint kept moving")

    async def status(self) -> list[SlotStatus]:
        try:
            return await slot_statuses(self._connection, [self._projection.name])
        except psycopg.Error as error:
            raise translate(error) from error

    async def close(self) -> None:
        self._leading = False
        await self._connection.close()


class PostgresRebuildSession:
    """ledger.projections.ports.RebuildSession on one connection of its own."""

    def __init__(
        self,
        connection: AsyncConnection[Any],
        projection: Projection,
        runner: str,
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._connection = connection
        self._projection = projection
        self._runner = runner
        self._pages = page_writer(projection, runner, now)
        self._locked = False

    @classmethod
    async def open(
        cls,
        conninfo: str,
        projection: Projection,
        *,
        runner: str,
        role: str | None = None,
        now: Callable[[], datetime] = wall_clock,
    ) -> Self:
        connection = await connect(conninfo, role, f"rebuild {projection.name}")
        try:
            await connection.execute(query("projection_ensure"), {"projection": projection.name})
        except psycopg.Error as error:
            await connection.close()
            raise translate(error) from error
        return cls(connection, projection, runner, now)

    async def try_lock_rebuild(self) -> bool:
        try:
            self._locked = await _try_lock(
                self._connection, REBUILD_LOCK_NAMESPACE, self._projection.name
            )
        except psycopg.Error as error:
            raise translate(error) from error
        return self._locked

    async def count_events(self) -> int:
        try:
            rows = await _fetch_all(self._connection, "events_count", {})
        except psycopg.Error as error:
            raise translate(error) from error
        return int(rows[0][0])

    async def reset_standby(self) -> None:
        assert self._locked
        for attempt in range(1, MAX_TRUNCATE_ATTEMPTS + 1):
            try:
                await self._reset_standby()
                return
            except pg_errors.LockNotAvailable:
                if attempt == MAX_TRUNCATE_ATTEMPTS:
                    raise RebuildBusy("queries kept the standby slot locked") from None
            except psycopg.Error as error:
                raise translate(error) from error

    async def _reset_standby(self) -> None:
        connection = self._connection
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('lock_timeout', %s, true)", [TRUNCATE_LOCK_TIMEOUT]
            )
            standby = await _checkpoint(connection, self._projection.name, live=False)
            tables = [
                sql.Identifier("ledger", table) for table in self._projection.tables(standby.slot)
            ]
            # TRUNCATE rather than DELETE: instant whatever the size, and no dead rows left
            # for vacuum. It is not MVCC-safe, but no query reads the standby: each reads the
            # slot its own snapshot calls live.
            await connection.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(tables)))
            await connection.execute(
                query("projection_reset_standby"),
                {"projection": self._projection.name, "runner": self._runner},
            )

    async def apply_standby_page(self, limit: int) -> Page:
        assert self._locked
        try:
            standby = await _checkpoint(self._connection, self._projection.name, live=False)
            page = await self._pages.apply(
                self._connection,
                slot=standby.slot,
                live=False,
                after=standby.position,
                limit=limit,
                upto=END_OF_LOG,
            )
        except psycopg.Error as error:
            raise translate(error) from error
        assert page is not None, "only the rebuild holding its lock writes the standby"
        return page

    async def swap(self, max_catch_up_events: int) -> bool:
        assert self._locked
        try:
            return await self._swap(max_catch_up_events)
        except pg_errors.LockNotAvailable:
            return False
        except psycopg.Error as error:
            raise translate(error) from error

    async def _swap(self, max_catch_up_events: int) -> bool:
        connection = self._connection
        name = self._projection.name
        swapped = False
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('lock_timeout', %s, true)", [SWAP_LOCK_TIMEOUT]
            )
            rows = await _fetch_all(connection, "projection_lock_slots", {"projection": name})
            assert len(rows) == len(SLOTS), rows
            slots = {row[0]: (row[1], _position(row[2], row[3])) for row in rows}
            (live_slot,) = [slot for slot, (live, _) in slots.items() if live]
            (standby_slot,) = [slot for slot, (live, _) in slots.items() if not live]
            live_at, standby_at = slots[live_slot][1], slots[standby_slot][1]
            if _key(standby_at) < _key(live_at):
                page = await self._pages.apply(
                    connection,
                    slot=standby_slot,
                    live=False,
                    after=standby_at,
                    limit=max_catch_up_events,
                    upto=live_at,
                )
                assert page is not None, "the swap holds both checkpoint rows"
                if page.last is None or _key(page.last) < _key(live_at):
                    raise psycopg.Rollback()
            await connection.execute(
                query("projection_swap"), {"projection": name, "old_live": live_slot}
            )
            await connection.execute(
                query("projection_go_live"), {"projection": name, "new_live": standby_slot}
            )
            swapped = True
        return swapped

    async def close(self) -> None:
        self._locked = False
        await self._connection.close()
