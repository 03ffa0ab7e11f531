"""Database errors translated to the event log's errors, by SQLSTATE and constraint name only."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from ledger.domain.errors import Conflict
from ledger.eventlog.errors import DuplicateRequest, StoreTimeout, StoreUnavailable

APPEND_ONLY_SQLSTATE = "LG001"


def translate(error: psycopg.Error) -> Exception:
    """The ledger-level error for a database error, or the error itself if it is a bug."""
    if isinstance(error, pg_errors.UniqueViolation):
        constraint = error.diag.constraint_name or ""
        if constraint.startswith("requests_"):
            return DuplicateRequest(constraint)
        if constraint.startswith("events_") or constraint.startswith("streams_"):
            return Conflict("another writer appended to the stream first")
    if isinstance(error, pg_errors.QueryCanceled):
        return StoreTimeout("the database statement ran out of time")
    sqlstate = error.sqlstate or ""
    # Class 08: connection exceptions; 57P: operator intervention (shutdown, crash recovery);
    # 53: insufficient resources. All are worth a retry with the same request id.
    if isinstance(error, psycopg.OperationalError) or sqlstate.startswith(("08", "57P", "53")):
        return StoreUnavailable("the database is unavailable")
    return error


@contextmanager
def translated_for_operators() -> Iterator[None]:
    """psycopg's errors translated as above, keeping PostgreSQL's own words in the message:
    for the commands an operator or an auditor runs (the audit, its report, the what-if),
    who needs them to mend the cause, where a caller of the API gets the reason alone."""
    try:
        yield
    except psycopg.Error as error:
        translated = translate(error)
        if isinstance(translated, StoreUnavailable | StoreTimeout):
            raise type(translated)(f"{translated}: {error}") from error
        raise translated from error
