"""Numbers on the command line: a usage error naming the range, never a bare assertion."""

import argparse
import os
from collections.abc import Callable

from ledger.audit.replay import MAX_WORKERS


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low:,} to {high:,}, not {value:,}")
        return value

    return parse


WORKERS = int_between(1, MAX_WORKERS)
"""--workers of the replays (audit, audit report, what-if)."""


def default_workers() -> int:
    """A replay worker per core, up to the most a replay takes."""
    return min(os.cpu_count() or 1, MAX_WORKERS)
