"""A rebuild's progress for a person at a terminal: events done, rate and time left.

On a terminal the line is redrawn in place; anywhere else (a log, a CI job) a line is
written every LINE_SECONDS, so the output stays readable and short.
"""

import time
from collections.abc import Callable
from typing import TextIO

REDRAW_SECONDS = 0.2
"""Least time between two redraws on a terminal."""
LINE_SECONDS = 5.0
"""Least time between two lines when the output is not a terminal."""


class TerminalProgress:
    def __init__(
        self,
        label: str,
        output: TextIO,
        *,
        now: Callable[[], float] = time.monotonic,
        line_seconds: float = LINE_SECONDS,
    ) -> None:
        self._label = label
        self._output = output
        self._tty = output.isatty()
        self._now = now
        self._every = REDRAW_SECONDS if self._tty else line_seconds
        self._started = now()
        self._shown_at = self._started

    def update(self, done: int, total: int) -> None:
        moment = self._now()
        if moment - self._shown_at < self._every:
            return
        self._shown_at = moment
        text = describe(self._label, done, total, moment - self._started)
        if self._tty:
            self._output.write(f"\r{text}\x1b[K")
        else:
            self._output.write(f"{text}\n")
        self._output.flush()

    def finish(self, done: int) -> None:
        elapsed = self._now() - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self._label}: {done:,} events in {_duration(elapsed)} ({rate:,.0f} events/s)"
        self._output.write(f"\r{text}\x1b[K\n" if self._tty else f"{text}\n")
        self._output.flush()


def describe(label: str, done: int, total: int, elapsed_seconds: float) -> str:
    """ "member_directory: 400,000 of 1,000,000 events (40%), 80,000 events/s, 8 s left"."""
    rate = done / elapsed_seconds if elapsed_seconds > 0 else 0.0
    share = f"{done / total:.0%}" if total else "100%"
    left = _duration((total - done) / rate) if rate > 0 and total > done else "-"
    return f"{label}: {done:,} of {total:,} events ({share}), {rate:,.0f} events/s, {left} left"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:  # noqa: PLR2004
        return f"{whole} s"
    minutes, seconds_left = divmod(whole, 60)
    if minutes < 60:  # noqa: PLR2004
        return f"{minutes} min {seconds_left:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
