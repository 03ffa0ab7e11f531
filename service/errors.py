"""Ledger errors to gRPC statuses: the one table, and the rich details AIP-193 asks for.

Each status carries a google.rpc.Status in the `grpc-status-details-bin` trailer with one
ErrorInfo (reason, domain, metadata) and, for bad input, a BadRequest naming each field.
"""

import grpc
from google.protobuf import any_pb2
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
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
]


def status_code_of(error: LedgerError) -> grpc.StatusCode:
    for error_type, code in STATUS_OF:
        if isinstance(error, error_type):
            return code
    return grpc.StatusCode.INTERNAL


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _clip(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode(errors="ignore") + "\u2026"


def to_status(error: LedgerError) -> grpc.Status:
    code = status_code_of(error)
    metadata = {key: _clip(value, MAX_TEXT_BYTES) for key, value in error.metadata.items()}
    details = [
        _packed(
            error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
        )
    ]
    message = error.message
    if isinstance(error, InvalidArgument):
        listed = error.violations[:MAX_VIOLATIONS]
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=_clip(violation.field, MAX_FIELD_BYTES),
                            description=_clip(violation.description, MAX_TEXT_BYTES),
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
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message=_clip(message, MAX_MESSAGE_BYTES),
        details=details,
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted
