"""Ledger errors to gRPC statuses: the one table, and the rich details AIP-193 asks for.

Each status carries a google.rpc.Status in the `grpc-status-details-bin` trailer with one
ErrorInfo (reason, domain, metadata); for bad input, a BadRequest naming each field; and for
what is worth retrying (ABORTED, UNAVAILABLE, RESOURCE_EXHAUSTED) a RetryInfo saying how long
to wait first, so clients back off by the service's measure rather than hammer it.
"""

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ledger.domain.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    LedgerError,
    NotFound,
)
from ledger.eventlog.errors import StoreTimeout, StoreUnavailable
from ledger.feed import FeedClosed, TooManySubscribers

ERROR_DOMAIN = "loyalty.v1"


class Unauthenticated(LedgerError):
    """No credentials, or none the service knows (service/auth.py)."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(LedgerError):
    """A known caller asking for what its scopes or programs do not allow."""

    reason = "PERMISSION_DENIED"


class LimitExceeded(LedgerError):
    """A limit that protects the service (service/limits.py): retry after the RetryInfo."""

    reason = "LIMIT_EXCEEDED"


# A status travels in the trailers, and clients drop trailers over 8-16 KiB ("received
# metadata size exceeds hard limit") and report RESOURCE_EXHAUSTED instead: a request with
# thousands of bad elements, or a huge value echoed in a description, must not make its own
# error unreadable. So every text is clipped and only the first violations are listed.
MAX_VIOLATIONS = 10
MAX_MESSAGE_BYTES = 512
MAX_FIELD_BYTES = 100
MAX_TEXT_BYTES = 200

STATUS_OF: list[tuple[type[LedgerError], grpc.StatusCode]] = [
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Conflict, grpc.StatusCode.ABORTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (StoreTimeout, grpc.StatusCode.DEADLINE_EXCEEDED),
    (FeedClosed, grpc.StatusCode.UNAVAILABLE),
    (TooManySubscribers, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (LimitExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
]


RETRY_DELAY_SECONDS: dict[grpc.StatusCode, float] = {
    # The database is unreachable or restarting; the pool reconnects within about a second.
    grpc.StatusCode.UNAVAILABLE: 1.0,
    # A limit of the caller's: the error names its own delay when it knows one (the rate).
    grpc.StatusCode.RESOURCE_EXHAUSTED: 1.0,
}
"""How long a client should wait before retrying, by status, unless the error says."""
RETRY_DELAY_BY_REASON: dict[str, float] = {
    # A stream contended so hard that every attempt lost its race: let the others through.
    # (Not every ABORTED: REVISION_MISMATCH fails again until the caller re-reads.)
    Conflict.reason: 0.1,
}


def status_code_of(error: LedgerError) -> grpc.StatusCode:
    for error_type, code in STATUS_OF:
        if isinstance(error, error_type):
            return code
    return grpc.StatusCode.INTERNAL


def _packed(
    message: error_details_pb2.ErrorInfo
    | error_details_pb2.BadRequest
    | error_details_pb2.RetryInfo,
) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _clip(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode(errors="ignore") + "\u2026"


def to_status(error: LedgerError) -> grpc.Status:
    converted: grpc.Status = rpc_status.to_status(status_proto(error))
    return converted


def status_proto(error: LedgerError) -> status_pb2.Status:
    """The google.rpc.Status of `error`, with its details: a call's trailer, or a
    long-running operation's `error`."""
    code = status_code_of(error)
    metadata = {key: _clip(value, MAX_TEXT_BYTES) for key, value in error.metadata.items()}
    details = [
        _packed(
            error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
        )
    ]
    message = error.message
    delay = (
        error.retry_after_seconds
        or RETRY_DELAY_BY_REASON.get(error.reason)
        or RETRY_DELAY_SECONDS.get(code)
    )
    if delay is not None:
        retry_delay = duration_pb2.Duration()
        retry_delay.FromNanoseconds(max(1, round(delay * 1e9)))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=retry_delay)))
    if isinstance(error, InvalidArgument):
        listed = error.violations[:MAX_VIOLATIONS]
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=_clip(violation.field, MAX_FIELD_BYTES),
                            description=_clip(violation.description, MAX_TEXT_BYTES),
                            reason=violation.reason or error.reason,
                        )
                        for violation in listed
                    ]
                )
            )
        )
        message = "; ".join(
            f"{_clip(v.field, MAX_FIELD_BYTES)}: {_clip(v.description, MAX_TEXT_BYTES)}"
            for v in listed
        )
        if len(error.violations) > len(listed):
            message += f"; and {len(error.violations) - len(listed)} more"
    return status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message=_clip(message, MAX_MESSAGE_BYTES),
        details=details,
    )
