"""Instants and dates as they are written in events. The time itself is always passed in."""

from datetime import UTC, date, datetime
from functools import lru_cache


@lru_cache(maxsize=4096)  # a batch writes one `now` many times over
def instant(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and Z: one spelling per instant, so bytes are canonical."""
    assert moment.tzinfo is not None, "instants are timezone-aware"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


@lru_cache(maxsize=4096)  # every command of a batch asks for the day of the batch's `now`
def day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def start_of_day(iso_day: str) -> datetime:
    return datetime.combine(date.fromisoformat(iso_day), datetime.min.time(), tzinfo=UTC)


@lru_cache(maxsize=4096)  # expiry days recur: every state row written names the next one
def start_of_day_instant(iso_day: str) -> str:
    """instant(start_of_day(iso_day))."""
    return instant(start_of_day(iso_day))
