"""Ledger entries as callers list them: a stored event, whose stream it is, and what it did
to the points (read from the event itself, so no caller needs to know event types)."""

from dataclasses import dataclass

from ledger.codec import events as event_codec
from ledger.domain.kinds import member_of
from ledger.eventlog.records import EventRecord


@dataclass(frozen=True)
class Entry:
    record: EventRecord
    member_id: str | None
    """The id of the member whose account the event is in; None for a program's own stream
    and for a member forgotten since (record.stream_id holds the member's key)."""
    points_delta: int
    """Change of available plus pending points."""

    @property
    def member_key(self) -> str | None:
        """The pseudonymous key of the member whose account the event is in; None for a
        program's own stream."""
        return member_of(self.record.stream_id)


def entry_of(record: EventRecord, member_id: str | None) -> Entry:
    """`member_id`: the id behind the record's stream key, if any (ledger/members.py)."""
    event = event_codec.decode(record.event_type, record.schema_version, record.data)
    return Entry(record, member_id, event.points_delta)
