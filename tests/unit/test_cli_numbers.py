"""Counts on the command line out of range are a usage error naming the option and the range
(exit 2), never an assertion from deep in a replay."""

import pytest

from ledger.audit.replay import MAX_WORKERS
from service import cli


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        (["audit", "--workers", "0"], "--workers", "must be 1 to 64, not 0"),
        (["audit", "--workers", "-3"], "--workers", "must be 1 to 64, not -3"),
        (["audit", "--workers", "many"], "--workers", "not a whole number: 'many'"),
        (
            [
                "what-if",
                "--program",
                "p",
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-01",
                "--workers",
                "65",
            ],
            "--workers",
            "must be 1 to 64, not 65",
        ),
        (
            ["projections", "rebuild", "member_directory", "--page-events", "0"],
            "--page-events",
            "must be 1 to 200,000, not 0",
        ),
    ],
)
def test_a_count_out_of_range_is_a_usage_error_naming_it(
    argv: list[str], option: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli._parser().parse_args(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: {says}" in error


def test_the_default_workers_are_a_count_a_replay_takes() -> None:
    args = cli._parser().parse_args(["audit"])
    assert 1 <= args.workers <= MAX_WORKERS
    assert cli._parser().parse_args(["audit", "--workers", "64"]).workers == MAX_WORKERS
