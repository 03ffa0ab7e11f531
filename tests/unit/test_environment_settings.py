"""Settings from the environment: defaults when unset, every wrong value named at once, and
each one in the README's table."""

import fnmatch
import re
from pathlib import Path

import pytest

from service.config import BadSettings, Settings


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_values_in_range_are_taken() -> None:
    settings = Settings.from_env(
        {
            "LEDGER_LISTEN_ADDRESS": "[::]:50051",
            "LEDGER_SHARDS": "4",
            "LEDGER_FEED_POLL_SECONDS": "0.5",
            "LEDGER_RUN_PROJECTIONS": "off",
            "LEDGER_ANSWER_RETENTION_DAYS": " 7 ",
        }
    )

    assert settings.listen_address == "[::]:50051"
    assert settings.shards == 4
    assert settings.feed_poll_seconds == 0.5
    assert settings.run_projections is False
    assert settings.answer_retention_days == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEDGER_SHARDS", "0"),
        ("LEDGER_SHARDS", "65"),
        ("LEDGER_POOL_MAX_SIZE", "1.5"),
        ("LEDGER_ANSWER_RETENTION_DAYS", "0"),
        ("LEDGER_SWEEP_INTERVAL_SECONDS", "-1"),
        ("LEDGER_FEED_POLL_SECONDS", "inf"),
        ("LEDGER_READ_HORIZON_WARN_SECONDS", "0"),
        ("LEDGER_LOG_MEMBER_IDS", "2"),
        ("LEDGER_LISTEN_ADDRESS", "127.0.0.1:70000"),
        ("LEDGER_LISTEN_ADDRESS", ":50051"),
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_kind_is_refused_by_name(
    name: str, value: str
) -> None:
    with pytest.raises(BadSettings) as raised:
        Settings.from_env({name: value})

    [problem] = raised.value.problems
    assert problem.startswith(f"{name}: must be")
    assert repr(value) in problem


def test_the_command_tells_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    from service import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])

    assert exited.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"loyalty-ledger {importlib.metadata.version('loyalty-ledger')}"


FREE_TEXT = frozenset(
    {
        "DATABASE_URL",
        "LEDGER_READ_DATABASE_URL",
        "OTEL_SERVICE_NAME",
        "LEDGER_CHECKPOINT_KEY_FILE",
        "LEDGER_CHECKPOINT_PUBLIC_KEY_FILE",
        "LEDGER_REFERRAL_FINGERPRINT_KEY",
        "LEDGER_DB_ROLE",
        "LEDGER_CALLERS_FILE",
        "LEDGER_CALLERS",
        "LEDGER_TLS_CERT_FILE",
        "LEDGER_TLS_KEY_FILE",
        "LEDGER_TLS_CLIENT_CA_FILE",
    }
)
"""Settings any text may be (a URI, a role, a path): checked where they are used."""


def _names_read() -> list[str]:
    asked: list[str] = []

    class Recording(dict[str, str]):
        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            asked.append(key)
            return super().get(key, default)

    Settings.from_env(Recording())
    return asked


def test_every_setting_but_free_text_refuses_a_value_of_the_wrong_kind_by_name() -> None:
    checked = [name for name in _names_read() if name not in FREE_TEXT]
    with pytest.raises(BadSettings) as raised:
        Settings.from_env(dict.fromkeys(checked, "bogus"))

    named = [problem.split(":")[0] for problem in raised.value.problems]
    assert named == checked
    assert {"LEDGER_MAX_CONCURRENT_WRITES", "LEDGER_MAX_CONNECTION_AGE_SECONDS"} <= set(named)


README = Path(__file__).resolve().parents[2] / "README.md"


def _configuration_table_names() -> list[str]:
    """The variables named in the first column of README "Configuration"'s table (one
    unbroken table: a blank line ends it)."""
    after = README.read_text("utf-8").split("\n### Configuration\n", 1)[1]
    rows = after.lstrip("\n").split("\n\n", 1)[0].splitlines()
    assert all(row.startswith("|") for row in rows)
    return [name for row in rows[2:] for name in re.findall(r"`([A-Z0-9_*]+)`", row.split("|")[1])]


def test_every_setting_has_a_row_with_its_default_in_the_readme() -> None:
    documented = _configuration_table_names()
    assert "LEDGER_ALLOW_PRIVILEGED_LOGIN" in documented
    missing = [
        name
        for name in _names_read()
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in documented)
    ]
    assert missing == []
    assert len(documented) == len(set(documented)), "a variable with two rows"
