"""Every line on stdout is one JSON object: the service's own and those of the libraries it
uses through the standard logging module (grpc, psycopg, asyncio, pgserver)."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from service.logs import REDACTED, JsonLines, configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    configure_logging("INFO", cache_loggers=False)
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, JsonLines):
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def _lines(printed: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in printed.splitlines()]


def test_library_lines_are_json_with_member_ids_redacted(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("psycopg.pool").warning("error connecting in %r", "pool-1")
    logging.getLogger("asyncio").error("task for programs/shop/accounts/jane@example.com died")
    structlog.get_logger("service").info("earned", member_id="jane@example.com")

    psycopg_line, asyncio_line, own_line = _lines(capsys.readouterr().out)

    assert psycopg_line["logger"] == "psycopg.pool"
    assert psycopg_line["level"] == "warning"
    assert psycopg_line["event"] == "error connecting in 'pool-1'"
    assert asyncio_line["event"] == f"task for programs/shop/accounts/{REDACTED} died"
    assert own_line["member_id"] == REDACTED


def test_a_library_exception_is_one_line_with_its_traceback(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("grpc._cython.cygrpc").exception("Unexpected error")

    [line] = _lines(capsys.readouterr().out)

    assert line["level"] == "error"
    assert "ValueError: broken" in str(line["exception"])


def test_pgserver_command_lines_stay_off_stdout_but_its_errors_do_not(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("pgserver").info("Running commandline:\n%s", ["pg_ctl", "start"])
    logging.getLogger("pgserver").error("Failed to start server.\nlog:\nFATAL: lock file")

    [line] = _lines(capsys.readouterr().out)

    assert line["logger"] == "pgserver"
    assert line["level"] == "error"
