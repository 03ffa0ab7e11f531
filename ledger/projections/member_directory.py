"""The member directory as its readers see it: a page of accounts and the filters it takes.

The directory holds, per account, the state after the account's latest event: balances and
stream version (copied from the log, which stores the balances after every event), the
enrolment time (its first event), the last activity time (its latest event not appended
by the housekeeping sweep) and the tier (the `to_tier` of its latest TierChanged). It lags
the log by as long as its runner takes to apply what was appended: it is eventually
consistent.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from ledger.domain.account import Balances
from ledger.domain.stages import Stage

T = TypeVar("T", int, datetime)

INTEGER_FIELDS = (
    "available",
    "pending",
    "held",
    "lifetime_earned",
    "lifetime_redeemed",
    "expired",
    "version",
)
"""Fields a query may bound by integers: the six balances (in points) and the version."""
TIME_FIELDS = ("enroll_time", "last_activity_time")
"""Fields a query may bound by instants."""
TEXT_FIELDS: dict[str, frozenset[str]] = {"stage": frozenset(stage.value for stage in Stage)}
"""Fields a query may match exactly, with the values each may take. `stage` is read from
the loyalty stage view (ledger/projections/stage_view.py) beside the directory."""
NAME_FIELDS = ("tier",)
"""Fields a query may match exactly against a name the program defines (its tiers): which
names are valid depends on the program, so the caller checks them against it. "" matches
the members below the lowest tier, also those never in a tier."""
MAX_LIMIT = 1_001
"""Rows one query returns at most (a page of 1,000 and one more, to tell if more follow)."""


@dataclass(frozen=True)
class Bounds(Generic[T]):
    """lowest <= value <= highest; None leaves that side open."""

    lowest: T | None = None
    highest: T | None = None

    def narrowed(self, lowest: T | None, highest: T | None) -> "Bounds[T]":
        """Both bounds at once: the tighter of each side."""
        if lowest is not None and self.lowest is not None:
            lowest = max(lowest, self.lowest)
        if highest is not None and self.highest is not None:
            highest = min(highest, self.highest)
        return Bounds(
            self.lowest if lowest is None else lowest,
            self.highest if highest is None else highest,
        )


@dataclass(frozen=True)
class DirectoryQuery:
    program_id: str
    after_member_id: str
    """Accounts with a member id greater than this ("" from the start)."""
    limit: int
    integers: dict[str, Bounds[int]] = field(default_factory=dict)
    """By field name, one of INTEGER_FIELDS."""
    times: dict[str, Bounds[datetime]] = field(default_factory=dict)
    """By field name, one of TIME_FIELDS. An account without a last activity time matches
    no bound on it."""
    texts: dict[str, str] = field(default_factory=dict)
    """By field name, one of TEXT_FIELDS or NAME_FIELDS: the value it must equal. An account
    the stage view has not applied yet matches no stage."""

    def __post_init__(self) -> None:
        assert 1 <= self.limit <= MAX_LIMIT, self.limit
        assert set(self.integers) <= set(INTEGER_FIELDS), self.integers
        assert set(self.times) <= set(TIME_FIELDS), self.times
        assert all(
            name in NAME_FIELDS or value in TEXT_FIELDS[name] for name, value in self.texts.items()
        ), self


@dataclass(frozen=True)
class DirectoryEntry:
    member_id: str
    member_key: str
    """The member's pseudonymous key, which the directory's rows are keyed by."""
    version: int
    enroll_time: datetime | None
    """None only before the account's first event is applied, which a row never is."""
    last_activity_time: datetime | None
    balances: Balances
    stage: Stage | None = None
    """From the stage view; None while it has not applied the account."""
    stage_time: datetime | None = None
    tier: str | None = None
    """The tier's name ("" below the lowest tier); None before the account's first tier
    change."""


class DirectoryReader(Protocol):
    """Where the directory is read from (ledger/store/directory.py on PostgreSQL)."""

    async def list_accounts(self, query: DirectoryQuery) -> list[DirectoryEntry]: ...
