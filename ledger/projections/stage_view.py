"""The loyalty stage view as its readers see it: each account's stage, the feed of changes
(of stage, and of tier: each TierChanged of the log, recorded by the same fold so that both
kinds share one order), and the count of members per stage.

Kept by its projection runner (ledger/store/stage_pages.py) a moment behind the log: it is
eventually consistent, as the member directory is.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ledger.domain.stages import Stage
from ledger.eventlog.records import Position, StreamRow

MAX_CHANGES_PER_READ = 1_000
"""Changes one read of the feed returns at most."""
MAX_ACCOUNTS_PER_READ = 1_000
"""Accounts one read of state rows with stages covers at most."""

StreamKey = tuple[str, str]
"""(program_id, stream_id), as ledger.domain.kinds names it."""


@dataclass(frozen=True, order=True)
class ChangePosition:
    """A place in the stage change feed: the global position of the event the change was
    made at, and an ordinal among the changes made there. (0, 0, 0) is before everything."""

    at: Position = field(default_factory=Position)
    ordinal: int = 0

    def encode(self) -> str:
        return f"{self.at.encode()}-{self.ordinal}"

    @classmethod
    def decode(cls, text: str) -> "ChangePosition":
        """ValueError for anything encode() does not write."""
        transaction_id, position, ordinal = (int(part) for part in text.split("-"))
        if min(transaction_id, position, ordinal) < 0:
            raise ValueError(text)
        return cls(Position(transaction_id, position), ordinal)


@dataclass(frozen=True)
class MemberStageRow:
    member_key: str
    stage: Stage
    stage_time: datetime
    """When the member entered the stage (for enrolled: the enrolment)."""


@dataclass(frozen=True)
class StageChangeEntry:
    position: ChangePosition
    program_id: str
    member_key: str
    member_id: str | None
    """None for a member forgotten since: known by key only."""
    from_stage: Stage
    to_stage: Stage
    change_time: datetime
    cause_event_id: str | None
    """The event that made the change; None for a lapse (time made it)."""
    cause_event_type: str


@dataclass(frozen=True)
class TierChangeEntry:
    """A TierChanged of the log, as the change feed serves it."""

    position: ChangePosition
    program_id: str
    member_key: str
    member_id: str | None
    """None for a member forgotten since: known by key only."""
    from_tier: str
    """"" below the lowest tier."""
    to_tier: str
    reason: str
    """The TierChanged `reason`: qualified, term_ended, renewed, manual or program_changed."""
    qualifying_figure: int
    change_time: datetime
    cause_event_id: str
    """The TierChanged event itself."""
    cause_event_type: str


FeedChange = StageChangeEntry | TierChangeEntry
"""One change of the feed, of either kind."""
FEED_KINDS = frozenset({"stage", "tier"})
"""The kinds of change the feed holds, as its readers name them."""


class StageReader(Protocol):
    """Where the stage view is read from (ledger/store/stage_reader.py on PostgreSQL)."""

    async def accounts_with_stages(
        self, keys: list[StreamKey]
    ) -> dict[StreamKey, tuple[StreamRow, MemberStageRow | None]]:
        """The state rows of account streams (a missing stream is missing), each with its
        stage row, in one round trip."""
        ...

    async def changes_after(
        self,
        program_id: str,
        after: ChangePosition,
        limit: int,
        kinds: frozenset[str] | None = None,
    ) -> list[FeedChange]:
        """Stage and tier changes of the program after `after`, in feed order; only those of
        `kinds` (some of FEED_KINDS) if given."""
        ...

    async def members_per_stage(self, program_id: str) -> dict[Stage, int]: ...
