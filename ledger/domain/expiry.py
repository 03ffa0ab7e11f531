"""When points expire: the one place that turns a program's expiry policy into an instant.

An expiry is an instant (spelled as events spell instants), never a bare date: a lot is valid
until that instant and expires at it. Lots are grouped by it (ledger/domain/lots.py), and since
every expiry decided here is a midnight in the program's time zone, an account holds at most
one lot per day, as it did when lots were keyed by date.

Lots written by the first release hold a date D, meaning "expires at the start of D, UTC";
the codec reads them as that instant (ledger/codec/expiry.py), so they keep their meaning.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from ledger.domain import clock
from ledger.domain.settings import ExpiryRounding, ProgramSettings, zone_named

DECEMBER = 12


def points_expire_at(settings: ProgramSettings, earned_at: datetime) -> str | None:
    """When points earned at `earned_at` under `settings` expire (None: never).

    Never sooner than `points_expiry_days` after `earned_at`: at the end of the day, in the
    program's time zone, on which those days end (or of that month or year, as the program
    rounds). Points earned at 18:50 UTC with 365 days stay 365 days and a few hours.
    """
    days = settings.points_expiry_days
    if days == 0:
        return None
    return _end_of_period_after(earned_at, days, settings.expiry_rounding, settings.time_zone)


def balance_expires_at(settings: ProgramSettings, active_at: datetime) -> str | None:
    """When the whole balance expires if the member does nothing that qualifies after
    `active_at` (None: the program has no inactivity expiry). The end of the day on which
    `inactivity_expiry_days` end, so every activity of one day sets the same deadline."""
    days = settings.inactivity_expiry_days
    if days == 0:
        return None
    return _end_of_period_after(active_at, days, ExpiryRounding.END_OF_DAY, settings.time_zone)


@lru_cache(maxsize=4096)  # one `now` and one policy for a whole batch of earns
def _end_of_period_after(
    moment: datetime, days: int, rounding: ExpiryRounding, time_zone: str
) -> str:
    # Days are counted as 24 hours in absolute time (a daylight-saving change never shortens
    # them), then the period is closed in the program's zone.
    zone = zone_named(time_zone)
    last_day = (moment.astimezone(UTC) + timedelta(days=days)).astimezone(zone).date()
    first_day_after = _first_day_after(last_day, rounding)
    # Midnight that a daylight-saving gap skips resolves to the instant the gap starts, which
    # is where that day begins.
    return clock.instant(datetime.combine(first_day_after, time(), tzinfo=zone))


def _first_day_after(last_day: date, rounding: ExpiryRounding) -> date:
    match rounding:
        case ExpiryRounding.END_OF_DAY:
            return last_day + timedelta(days=1)
        case ExpiryRounding.END_OF_MONTH:
            if last_day.month == DECEMBER:
                return date(last_day.year + 1, 1, 1)
            return date(last_day.year, last_day.month + 1, 1)
        case ExpiryRounding.END_OF_YEAR:
            return date(last_day.year + 1, 1, 1)
