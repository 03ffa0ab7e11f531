"""Database errors translated to the event log's errors, by SQLSTATE and constraint name only."""

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
