"""How often, and for how many points, an account's actions were rewarded in each cap
period: one counter per action and period, never a list of the actions themselves.

The period an action counts under is decided once, when it is recorded (in the program's
time zone) and written in its event; folding only compares those keys, so a replay never
redoes calendar arithmetic, and a counter whose key is not the current period's counts 0.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ledger.domain.action_settings import CapPeriod
from ledger.domain.frozen import replace


@dataclass(frozen=True)
class PeriodKeys:
    """The periods an instant falls in, spelled as events store them."""

    day: str
    week: str
    month: str
    year: str

    def key(self, period: CapPeriod) -> str:
        if period is CapPeriod.LIFETIME:
            return ""
        key: str = getattr(self, period.value)
        return key


def period_keys(now: datetime, zone: ZoneInfo) -> PeriodKeys:
    """2026-03-01, 2026-W09 (ISO week: Monday to Sunday, in the ISO week-numbering year),
    2026-03 and 2026, in `zone`."""
    local = now.astimezone(zone).date()
    iso_year, iso_week, _weekday = local.isocalendar()
    return PeriodKeys(
        day=local.isoformat(),
        week=f"{iso_year}-W{iso_week:02d}",
        month=f"{local.year:04d}-{local.month:02d}",
        year=f"{local.year:04d}",
    )


@dataclass(frozen=True)
class PeriodCount:
    key: str
    """The period counted ("" for the lifetime)."""
    times: int = 0
    points: int = 0


@dataclass(frozen=True)
class ActionCounts:
    """Rewarded actions of one action id, per period."""

    day: PeriodCount = PeriodCount("")
    week: PeriodCount = PeriodCount("")
    month: PeriodCount = PeriodCount("")
    year: PeriodCount = PeriodCount("")
    lifetime: PeriodCount = PeriodCount("")

    def count_in(self, period: CapPeriod, keys: PeriodKeys) -> PeriodCount:
        """The counter of the period `keys` fall in (empty when the one kept is older)."""
        kept: PeriodCount = getattr(self, period.value)
        key = keys.key(period)
        return kept if kept.key == key else PeriodCount(key)

    def plus(self, keys: PeriodKeys, points: int) -> "ActionCounts":
        changes = {}
        for period in CapPeriod:
            count = self.count_in(period, keys)
            changes[period.value] = PeriodCount(count.key, count.times + 1, count.points + points)
        return replace(self, **changes)
