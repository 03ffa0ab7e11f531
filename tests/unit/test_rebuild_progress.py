"""A rebuild's progress: redrawn in place on a terminal, a line every few seconds elsewhere,
with the rate and the time left."""

import io

from ledger.projections.progress import TerminalProgress, describe


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_description_has_the_share_done_the_rate_and_the_time_left() -> None:
    text = describe("member_directory", 400_000, 1_000_000, 5.0)
    assert text == (
        "member_directory: 400,000 of 1,000,000 events (40%), 80,000 events/s, 8 s left"
    )


def test_off_a_terminal_a_line_is_written_every_few_seconds_only() -> None:
    output, clock = io.StringIO(), Clock()
    progress = TerminalProgress("p", output, now=clock, line_seconds=5.0)
    for second in range(1, 12):
        clock.now = 100.0 + second
        progress.update(second * 1_000, 20_000)
    progress.finish(20_000)
    lines = output.getvalue().splitlines()
    assert len(lines) == 3  # at 5 s, at 10 s, and the final one
    assert "\r" not in output.getvalue()
    assert lines[0].startswith("p: 5,000 of 20,000 events (25%), 1,000 events/s, 15 s left")
    assert lines[-1].startswith("p: 20,000 events in 11 s")


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    output, clock = Terminal(), Clock()
    progress = TerminalProgress("p", output, now=clock)
    for tenth in range(1, 11):
        clock.now = 100.0 + tenth / 2
        progress.update(tenth, 10)
    progress.finish(10)
    text = output.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r") >= 5
