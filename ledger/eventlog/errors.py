"""Errors an event log raises, besides ledger.domain.errors.Conflict (another writer appended
to a stream first). Implementations translate their own failures into these, once."""

from ledger.domain.errors import LedgerError


class StoreUnavailable(LedgerError):
    """The log cannot be reached or is shutting down: retry later with the same request.
    Raised also when an append's outcome is unknown (the connection dropped mid-commit)."""

    reason = "STORE_UNAVAILABLE"


class StoreTimeout(LedgerError):
    """A read or append ran out of its time (the caller's deadline or the log's own limit)."""

    reason = "STORE_TIMEOUT"


class DuplicateRequest(Exception):
    """Another writer stored the same request id first; the caller re-reads its answer."""
