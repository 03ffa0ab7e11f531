"""Instants and dates as they are written in events. The time itself is always passed in."""

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache


@lru_cache(maxsize=4096)  # a batch writes one `now` many times over
def instant(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and Z: one spelling per instant, so bytes are canonical."""
    assert moment.tzinfo is not None, "instants are timezone-aware"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def start_of_day(iso_day: str) -> datetime:
    return datetime.combine(date.fromisoformat(iso_day), datetime.min.time(), tzinfo=UTC)


def expiry_day(earned_at: datetime, points_expiry_days: int) -> str | None:
    """Points earned on day D with an N-day policy expire at the start of day D + N (UTC)."""
    if points_expiry_days == 0:
        return None
    return (earned_at.astimezone(UTC).date() + timedelta(days=points_expiry_days)).isoformat()
