"""A program's revisions as stored: each one's settings, when and by whom it was made, and
which settings it changed.

Revision N is the program stream's event N (a creation or an update, each holding the whole
settings), so reading a past revision is one indexed read and replays no rule. The changed
paths are derived by comparing a revision with the one before, so revisions written before
update masks existed show them too.
"""

from dataclasses import dataclass

from ledger.codec import events as event_codec
from ledger.domain import clock
from ledger.domain.errors import NotFound
from ledger.domain.events import ProgramCreated, ProgramUpdated
from ledger.domain.kinds import program_key
from ledger.domain.program import ProgramState
from ledger.domain.program_mask import changed_paths
from ledger.domain.settings import ProgramSettings
from ledger.eventlog.port import EventLog
from ledger.eventlog.records import EventRecord, StreamRow
from ledger.outcomes import ProgramView

MAX_REVISIONS_READ = 1_000
"""Revisions one read returns at most (callers page)."""


@dataclass(frozen=True)
class ProgramRevision:
    revision: int
    settings: ProgramSettings
    recorded_at: str
    actor: str
    request_id: str
    changed_paths: tuple[str, ...]
    """Mask paths whose values differ from the revision before (from the defaults for the
    first)."""


async def head(
    log: EventLog, program_id: str, field_name: str, deadline: float | None
) -> StreamRow:
    """The program stream's row; NotFound naming `field_name` for no such program."""
    row = await log.get_stream(program_key(program_id), deadline=deadline)
    if row is None:
        raise NotFound("no such program", field_name=field_name, reason="PROGRAM_NOT_FOUND")
    return row


async def program_at(
    log: EventLog, program_id: str, revision: int, field_name: str, deadline: float | None
) -> ProgramView:
    """The program as of `revision` (at least 1); NotFound naming `revision` past its head."""
    row = await head(log, program_id, field_name, deadline)
    if revision > row.version:
        raise NotFound(
            f"the program is at revision {row.version}",
            field_name="revision",
            reason="REVISION_NOT_FOUND",
        )
    records = await log.list_entries(
        program_key(program_id), after_version=revision - 1, limit=1, deadline=deadline
    )
    assert len(records) == 1 and records[0].version == revision, (revision, records)
    return ProgramView(
        ProgramState(revision, program_id, _settings(records[0])),
        clock.instant(row.created_at),
        clock.instant(records[0].recorded_at),
    )


async def revisions(
    log: EventLog, program_id: str, first: int, last: int, deadline: float | None
) -> list[ProgramRevision]:
    """Revisions `first` to `last` (inclusive, existing ones), oldest first."""
    assert 1 <= first <= last and last - first < MAX_REVISIONS_READ, (first, last)
    # One more before the first, to tell what the first changed.
    after = max(first - 2, 0)
    records = await log.list_entries(
        program_key(program_id), after_version=after, limit=last - after, deadline=deadline
    )
    found: list[ProgramRevision] = []
    before = ProgramSettings()
    for record in records:
        settings = _settings(record)
        if record.version >= first:
            found.append(
                ProgramRevision(
                    revision=record.version,
                    settings=settings,
                    recorded_at=clock.instant(record.recorded_at),
                    actor=str(record.metadata.get("actor", "")),
                    request_id=str(record.metadata.get("request_id", "")),
                    changed_paths=changed_paths(before, settings),
                )
            )
        before = settings
    return found


def _settings(record: EventRecord) -> ProgramSettings:
    event = event_codec.decode(record.event_type, record.schema_version, record.data)
    assert isinstance(event, (ProgramCreated, ProgramUpdated)), record.event_type
    return event.settings
