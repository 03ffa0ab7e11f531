"""structlog as JSON lines on stdout, with the current trace and span ids on every line, and
no member id in the clear (README "Personal data") unless LEDGER_LOG_MEMBER_IDS is set for
development."""

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import trace


def _add_trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event["trace_id"] = format(span_context.trace_id, "032x")
        event["span_id"] = format(span_context.span_id, "016x")
    return event


# An account's resource name (programs/{program}/accounts/{member}), wherever it shows in a
# line: a message, an exception's text, a traceback.
_ACCOUNT_NAME = re.compile(r"(programs/[a-z][a-z0-9-]*/accounts/)[^\s\"',)\]]+")
REDACTED = "<member>"
_MEMBER_ID_FIELDS = frozenset({"member_id", "destination_member_id", "source_member_id"})


def redact_member_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Member ids out of every field: fields that name a member by id are replaced, and
    account names inside any text lose their member part."""
    for field, value in event.items():
        if not isinstance(value, str):
            continue
        if field in _MEMBER_ID_FIELDS:
            event[field] = REDACTED
        elif "/accounts/" in value:
            event[field] = _ACCOUNT_NAME.sub(rf"\g<1>{REDACTED}", value)
    return event


def _json(value: Any, **_options: Any) -> str:
    """orjson: a few microseconds less than json per line, on every call's access line;
    anything it cannot encode is written as its str() rather than failing the line."""
    return orjson.dumps(value, default=str).decode()


class _CurrentStdout:
    """Whatever sys.stdout is when a line is written (a test's capture, a redirected
    stream), rather than the one there was when logging was configured."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


STDOUT = _CurrentStdout()

QUIET_LIBRARIES = {"pgserver": "WARNING"}
"""Libraries whose INFO lines are noise for an operator: pgserver (the embedded PostgreSQL of
development) logs every command line it runs; its warnings and errors still come through."""


class JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The standard library's lines, as JSON through structlog's processors."""


def _processors() -> list[Any]:
    """What every line goes through, structlog's own and the standard library's alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        structlog.processors.format_exc_info,
        *(() if _member_ids_shown() else (redact_member_ids,)),
    ]


def configure_logging(level: str = "INFO", *, cache_loggers: bool = True) -> None:
    """One JSON object per line on stdout, for the service's lines and for every library's
    (grpc, psycopg, asyncio, pgserver...) through the standard logging module.
    `cache_loggers`: False in tests, whose loggers must follow a later configuration."""
    shared = _processors()
    handler = JsonLines(STDOUT)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(_json),
            ],
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, JsonLines):  # configured again: the new one replaces it
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet_level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(quiet_level)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer(_json)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(STDOUT),  # type: ignore[arg-type]
        cache_logger_on_first_use=cache_loggers,
    )


def _member_ids_shown() -> bool:
    return os.environ.get("LEDGER_LOG_MEMBER_IDS", "").strip().lower() in {"1", "true", "yes"}
