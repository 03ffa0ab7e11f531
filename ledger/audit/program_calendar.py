"""A program's calendar for the finance report: its months in its own time zone, and the point
values in force at any instant, read from the program stream's revisions.

Every instant here is spelled as the log spells `recorded_at` (UTC, microseconds, `Z`: see
ledger/store/audit_reader.py), a fixed-width text, so instants compare as strings and the
replay never parses one per event: it asks for a month's span once and compares texts until
an event falls outside it.

A revision that changes the time zone changes where later months start; months before it
keep the boundaries they had, so a report of a past month reads the same after the change.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from ledger.audit.fold import Unreplayable, new_fold, point_values_of, time_zone_of
from ledger.store.audit_reader import EventRow

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def spell(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(INSTANT_FORMAT)


def parse(instant: str) -> datetime:
    return datetime.strptime(instant, INSTANT_FORMAT).replace(tzinfo=UTC)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Revision:
    """Settings in force from `effective_from` (the instant the revision was recorded)."""

    effective_from: str
    time_zone: str
    point_values: tuple[tuple[str, int], ...]
    """(currency, nanos of its major unit per point), by currency."""


@dataclass(frozen=True)
class MonthSpan:
    """The instants [start, stop) of one month of a program (or of the part of it under one
    revision); "" start or stop: unbounded."""

    month: str
    """YYYY-MM in the program's time zone."""
    start: str
    stop: str


@dataclass(frozen=True)
class ProgramCalendar:
    program_id: str
    revisions: tuple[Revision, ...]
    """In the order recorded; at least one."""

    def __post_init__(self) -> None:
        assert self.revisions, self.program_id

    @property
    def _froms(self) -> list[str]:
        return [revision.effective_from for revision in self.revisions]

    def revision_at(self, instant: str) -> Revision:
        """The revision in force at `instant` (the first, before the program existed)."""
        index = bisect_right(self._froms, instant) - 1
        return self.revisions[max(index, 0)]

    def revision_before(self, instant: str) -> Revision:
        """The revision in force just before `instant` (a period's end is exclusive)."""
        index = bisect_left(self._froms, instant) - 1
        return self.revisions[max(index, 0)]

    def month_span(self, instant: str) -> MonthSpan:
        """The month `instant` falls in, and its span cut to the revision in force."""
        froms = self._froms
        index = max(bisect_right(froms, instant) - 1, 0)
        zone = _zone(self.revisions[index].time_zone)
        local = parse(instant).astimezone(zone)
        first = datetime(local.year, local.month, 1, tzinfo=zone)
        start, stop = spell(first), spell(_next_month(first))
        if index > 0:
            start = max(start, froms[index])
        if index + 1 < len(froms):
            stop = min(stop, froms[index + 1])
        return MonthSpan(f"{local.year:04d}-{local.month:02d}", start, stop)

    def start_of_day(self, day: date) -> str:
        """The instant `day` starts in the program's time zone, under the revision in force
        then."""
        for index in range(len(self.revisions) - 1, -1, -1):
            revision = self.revisions[index]
            moment = spell(datetime(day.year, day.month, day.day, tzinfo=_zone(revision.time_zone)))
            if index == 0 or moment >= revision.effective_from:
                return moment
        raise AssertionError("unreachable: the first revision always answers")

    def month_end(self, month: str) -> str:
        """The instant `month` (YYYY-MM) ends: the next month's first day starts."""
        year, number = int(month[:4]), int(month[5:7])
        following = date(year + number // 12, number % 12 + 1, 1)
        return self.start_of_day(following)

    def cut_at(self, cutoff: str) -> "ProgramCalendar":
        """The calendar as it stood before `cutoff`: later revisions dropped."""
        kept = tuple(revision for revision in self.revisions if revision.effective_from < cutoff)
        return ProgramCalendar(self.program_id, kept or self.revisions[:1])


def _next_month(first: datetime) -> datetime:
    year, month = first.year + first.month // 12, first.month % 12 + 1
    return datetime(year, month, 1, tzinfo=first.tzinfo)


def month_after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    months = [first]
    while months[-1] < last:
        months.append(month_after(months[-1]))
    return months


def calendar_from_events(program_id: str, rows: list[EventRow]) -> ProgramCalendar | None:
    """The calendar of a program stream's events, folded by the domain (None: no event
    folds, so the program never existed). A row that does not fold is left out here; the
    replay reports it."""
    fold = new_fold(rows[0].stream_id) if rows else None
    revisions: list[Revision] = []
    for row in rows:
        assert fold is not None
        try:
            fold.fold(row)
        except Unreplayable:
            break  # the replay reports it, naming the event
        zone, values = time_zone_of(fold.state), point_values_of(fold.state)
        assert zone is not None and values is not None, row.stream_id
        revision = Revision(row.recorded_at, zone, tuple(sorted(values.items())))
        if revisions and (revisions[-1].time_zone, revisions[-1].point_values) == (
            zone,
            revision.point_values,
        ):
            continue  # a revision changing neither (its earn rates, its rewards)
        revisions.append(revision)
    if not revisions:
        return None
    return ProgramCalendar(program_id, tuple(revisions))


def one_microsecond_after(instant: str) -> str:
    return spell(parse(instant) + timedelta(microseconds=1))
