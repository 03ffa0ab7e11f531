"""The loyalty stage view's pages: read from the log, folded through the domain's stage rules
(ledger/domain/stages.py), written back with the checkpoint in one transaction.

The member directory applies a page in one SQL statement; the stage rules are the domain's
(a program's settings, a promoter score inside an event's data, a window of purchase times),
so here a page is read, folded in Python and written in a few statements, all in one
transaction that first takes the slot's checkpoint row (the compare-and-set the statement of
the other projections makes at its end). A crash still never applies an event twice or skips
one.

Lapses happen without any event from the member. When a member's next event comes after the
moment their lapse fell due, the fold records the lapse first, at that moment. Otherwise the
sweep finds it: each page that reaches the head of the log lapses the members whose moment
has passed by `now`, at that moment. The clock is read first, then the log is asked whether
any committed event lies past the page: only when none does is every event recorded before
`now` applied, and the sweep runs. A page that leaves events behind leaves the sweep to the
next: events still unread may keep those members active, or change the stage they lapse
from. (An append still in flight when the clock is read, recorded a moment before it, is the
one event the sweep cannot wait for.)
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql

from ledger.codec import events as event_codec
from ledger.domain.events import (
    EVENT_TYPES,
    MemberEnrolled,
    ProgramCreated,
    ProgramUpdated,
    TierChanged,
)
from ledger.domain.stage_settings import StageSettings
from ledger.domain.stages import (
    SIGNAL_OF_TYPE,
    TYPES_READ_FOR_SIGNALS,
    MemberStage,
    Signal,
    Stage,
    StageChange,
    lapse_due,
    observe,
    signal_of,
)
from ledger.eventlog.records import Position
from ledger.projections.catalog import MEMBER_STAGES, SLOTS
from ledger.projections.ports import Page
from ledger.projections.streams import non_account_prefix
from ledger.store.sql import query

PROGRAM_EVENT_TYPES = (ProgramCreated.event_type, ProgramUpdated.event_type)
READ_TYPES = sorted({*TYPES_READ_FOR_SIGNALS, *PROGRAM_EVENT_TYPES, TierChanged.event_type})
"""Types whose data a page fetches; every other event is seen by its type alone."""
LAPSE_ORDINAL_BASE = 1_000_000
"""Lapses the sweep finds are ordered after every change an event makes at the same position
(an event makes two at most)."""
TIER_CHANGE_ORDINAL = 2
"""A tier change is recorded at its TierChanged event's position with this ordinal: after the
two stage changes an event could make (none for TierChanged today), before any lapse.
0075_tier_change_feed.sql backfills with the same number."""
MAX_LAPSES_PER_PAGE = 5_000
"""Members one sweep lapses at most; when it lapses that many, the page says "look again
soon" (held_back), and the next page lapses more."""


def wall_clock() -> datetime:
    """The default clock of lapses; tests and the server pass their own."""
    return datetime.now(UTC)


Key = tuple[str, str]
"""(program_id, member_key)"""


@dataclass
class _Fold:
    """A page folded: the members and programs it changed and the changes it made."""

    members: dict[Key, MemberStage] = field(default_factory=dict)
    changed: set[Key] = field(default_factory=set)
    settings: dict[str, StageSettings] = field(default_factory=dict)
    programs_changed: set[str] = field(default_factory=set)
    changes: list[tuple[Key, Position, int, StageChange, str | None, str]] = field(
        default_factory=list
    )
    tier_changes: list[tuple[Key, Position, str, datetime, TierChanged]] = field(
        default_factory=list
    )
    """(member, position, event id, recorded at, event): the feed's tier changes."""


class StagePages:
    """Applies pages of the stage view to one slot (the PageStatements of a folded
    projection, ledger/store/projection_sessions.py)."""

    def __init__(self, runner: str, now: Callable[[], datetime]) -> None:
        self._runner = runner
        self._now = now
        self._statements = {slot: _SlotStatements(slot) for slot in SLOTS}

    async def apply(
        self,
        connection: AsyncConnection[Any],
        *,
        slot: str,
        live: bool,
        after: Position,
        limit: int,
        upto: Position,
    ) -> Page | None:
        """The page applied and committed, or None (and nothing changed) if the checkpoint
        was not at `after` or the slot no longer live (or standby) as `live` says."""
        statements = self._statements[slot]
        async with connection.transaction():
            held = await connection.execute(
                query("stage_checkpoint_hold"),
                {
                    "projection": MEMBER_STAGES.name,
                    "slot": slot,
                    "live": live,
                    "after_transaction": str(after.transaction_id),
                    "after_position": after.position,
                },
            )
            if await held.fetchone() is None:
                return None
            cursor = await connection.execute(
                query("stage_page_events"),
                {
                    "read_types": READ_TYPES,
                    "after_transaction": str(after.transaction_id),
                    "after_position": after.position,
                    "upto_transaction": str(upto.transaction_id),
                    "upto_position": upto.position,
                    "limit": limit,
                },
            )
            rows = await cursor.fetchall()
            last = after
            if rows:
                await self._fold_and_save(connection, statements, rows)
                last = Position(int(rows[-1][7]), rows[-1][8])
                await connection.execute(
                    query("stage_checkpoint_advance"),
                    {
                        "projection": MEMBER_STAGES.name,
                        "slot": slot,
                        "last_transaction": str(last.transaction_id),
                        "last_position": last.position,
                        "events": len(rows),
                        "last_recorded_at": rows[-1][6],
                        "runner": self._runner,
                    },
                )
            # The clock first, then the log (the module's docstring says why).
            now = self._now()
            held_back = await _newest_committed(connection) > last
            if len(rows) < limit and not held_back:
                lapsed = await _row_count(
                    connection,
                    statements.lapse_sweep,
                    {
                        "now": now,
                        "limit": MAX_LAPSES_PER_PAGE,
                        "at_transaction": str(last.transaction_id),
                        "at_position": last.position,
                        "ordinal_base": LAPSE_ORDINAL_BASE,
                    },
                )
                held_back = lapsed >= MAX_LAPSES_PER_PAGE
        return Page(events=len(rows), last=last if rows else None, held_back=held_back)

    async def _fold_and_save(
        self, connection: AsyncConnection[Any], statements: "_SlotStatements", rows: list[Any]
    ) -> None:
        fold = _Fold()
        prefix = non_account_prefix()
        accounts = {
            (row[0], row[1])
            for row in rows
            if not row[1].startswith(prefix) and _touches_member(row[3])
        }
        programs = {
            row[0] for row in rows if row[3] in PROGRAM_EVENT_TYPES or (row[0], row[1]) in accounts
        }
        fold.settings = await _load_settings(connection, statements, programs)
        fold.members = await _load_members(connection, statements, accounts)
        for row in rows:
            _fold_row(fold, row)
        await _save(connection, statements, fold)


def _touches_member(event_type: str) -> bool:
    return (
        event_type == MemberEnrolled.event_type
        or event_type in SIGNAL_OF_TYPE
        or event_type in TYPES_READ_FOR_SIGNALS
    )


def _fold_row(fold: _Fold, row: Any) -> None:
    program_id, stream_id, event_id, event_type, schema_version, data, recorded_at = row[:7]
    if event_type in PROGRAM_EVENT_TYPES:
        event = event_codec.decode(event_type, schema_version, data)
        assert isinstance(event, ProgramCreated | ProgramUpdated)
        fold.settings[program_id] = event.settings.stage_settings
        fold.programs_changed.add(program_id)
        return
    key = (program_id, stream_id)
    if event_type == TierChanged.event_type and not stream_id.startswith(non_account_prefix()):
        tier_change = event_codec.decode(event_type, schema_version, data)
        assert isinstance(tier_change, TierChanged)
        position = Position(int(row[7]), row[8])
        fold.tier_changes.append((key, position, event_id, recorded_at, tier_change))
        return
    if stream_id.startswith(non_account_prefix()) or not _touches_member(event_type):
        return
    if event_type == MemberEnrolled.event_type:
        if key not in fold.members:
            fold.members[key] = MemberStage(since=recorded_at)
            fold.changed.add(key)
        return
    settings = fold.settings.get(program_id, StageSettings())
    signal: Signal | None = SIGNAL_OF_TYPE.get(event_type)
    if signal is None:
        if event_type not in EVENT_TYPES:
            return  # a type of a newer release: not a signal this code knows
        signal = signal_of(event_codec.decode(event_type, schema_version, data), settings)
    if signal is None:
        return
    member = fold.members.get(key) or MemberStage(since=recorded_at)
    member, changes = observe(member, signal, recorded_at, settings)
    fold.members[key] = member
    fold.changed.add(key)
    position = Position(int(row[7]), row[8])
    for ordinal, change in enumerate(changes):
        cause_id = None if change.by_lapse else event_id
        cause_type = "" if change.by_lapse else event_type
        fold.changes.append((key, position, ordinal, change, cause_id, cause_type))


class _SlotStatements:
    """The statements that name a slot's tables, composed once per slot."""

    def __init__(self, slot: str) -> None:
        tables = dict(
            zip(
                ("stages", "changes", "programs", "counts"),
                MEMBER_STAGES.tables(slot),
                strict=True,
            )
        )
        names = {name: sql.Identifier("ledger", table) for name, table in tables.items()}

        def compose(file: str) -> sql.Composed:
            return sql.SQL(query(file)).format(**names)

        self.members_load = compose("stage_members_load")
        self.members_save = compose("stage_members_save")
        self.changes_insert = compose("stage_changes_insert")
        self.tier_changes_insert = compose("stage_tier_changes_insert")
        self.programs_load = compose("stage_programs_load")
        self.programs_save = compose("stage_programs_save")
        self.lapse_sweep = compose("stage_lapse_sweep")


async def _load_settings(
    connection: AsyncConnection[Any], statements: _SlotStatements, programs: Iterable[str]
) -> dict[str, StageSettings]:
    cursor = await connection.execute(statements.programs_load, {"program_ids": list(programs)})
    return {
        row[0]: StageSettings(row[1], row[2], row[3], tuple(row[4]))
        for row in await cursor.fetchall()
    }


async def _load_members(
    connection: AsyncConnection[Any], statements: _SlotStatements, keys: Iterable[Key]
) -> dict[Key, MemberStage]:
    programs, members = zip(*keys, strict=True) if keys else ((), ())
    cursor = await connection.execute(
        statements.members_load, {"program_ids": list(programs), "member_keys": list(members)}
    )
    return {
        (row[0], row[1]): MemberStage(
            stage=Stage(row[2]),
            since=row[3],
            purchases=row[4],
            recent_purchase_times=tuple(row[5]),
            redeemed=row[6],
            affective=row[7],
            last_activity_time=row[8],
        )
        for row in await cursor.fetchall()
    }


async def _save(connection: AsyncConnection[Any], statements: _SlotStatements, fold: _Fold) -> None:
    for program_id in sorted(fold.programs_changed):
        settings = fold.settings[program_id]
        await connection.execute(
            statements.programs_save,
            {
                "program_id": program_id,
                "lapsed_after_days": settings.lapsed_after_days,
                "action_purchases": settings.action_purchases,
                "action_window_days": settings.action_window_days,
                "review_action_ids": list(settings.review_action_ids),
            },
        )
    if fold.changed:
        async with connection.cursor() as cursor:
            await cursor.executemany(
                statements.members_save,
                [_member_row(key, fold) for key in sorted(fold.changed)],
            )
    if fold.changes:
        await connection.execute(statements.changes_insert, _changes_columns(fold.changes))
    if fold.tier_changes:
        await connection.execute(
            statements.tier_changes_insert, _tier_changes_columns(fold.tier_changes)
        )


def _member_row(key: Key, fold: _Fold) -> dict[str, Any]:
    member = fold.members[key]
    settings = fold.settings.get(key[0], StageSettings())
    return {
        "program_id": key[0],
        "member_key": key[1],
        "stage": member.stage.value,
        "stage_time": member.since,
        "purchases": member.purchases,
        "recent_purchase_times": list(member.recent_purchase_times),
        "redeemed": member.redeemed,
        "affective": member.affective,
        "last_activity_time": member.last_activity_time,
        "lapse_due_time": lapse_due(member, settings),
    }


def _changes_columns(
    changes: list[tuple[Key, Position, int, StageChange, str | None, str]],
) -> dict[str, list[Any]]:
    return {
        "program_ids": [key[0] for key, *_ in changes],
        "member_keys": [key[1] for key, *_ in changes],
        "at_transactions": [str(position.transaction_id) for _, position, *_ in changes],
        "at_positions": [position.position for _, position, *_ in changes],
        "ordinals": [ordinal for _, _, ordinal, *_ in changes],
        "change_times": [change.time for *_, change, _, _ in changes],
        "from_stages": [change.from_stage.value for *_, change, _, _ in changes],
        "to_stages": [change.to_stage.value for *_, change, _, _ in changes],
        "cause_event_ids": [cause_id for *_, cause_id, _ in changes],
        "cause_event_types": [cause_type for *_, cause_type in changes],
    }


def _tier_changes_columns(
    changes: list[tuple[Key, Position, str, datetime, TierChanged]],
) -> dict[str, Any]:
    return {
        "program_ids": [key[0] for key, *_ in changes],
        "member_keys": [key[1] for key, *_ in changes],
        "at_transactions": [str(position.transaction_id) for _, position, *_ in changes],
        "at_positions": [position.position for _, position, *_ in changes],
        "ordinal": TIER_CHANGE_ORDINAL,
        "change_times": [recorded_at for *_, recorded_at, _ in changes],
        "cause_event_ids": [event_id for _, _, event_id, *_ in changes],
        "cause_event_type": TierChanged.event_type,
        "from_tiers": [event.from_tier for *_, event in changes],
        "to_tiers": [event.to_tier for *_, event in changes],
        "reasons": [event.reason for *_, event in changes],
        "qualifying_figures": [event.qualifying_figure for *_, event in changes],
    }


async def _newest_committed(connection: AsyncConnection[Any]) -> Position:
    cursor = await connection.execute(query("newest_committed"))
    row = await cursor.fetchone()
    return Position() if row is None else Position(int(row[0]), row[1])


async def _row_count(connection: AsyncConnection[Any], statement: Any, parameters: Any) -> int:
    cursor = await connection.execute(statement, parameters)
    return cursor.rowcount
