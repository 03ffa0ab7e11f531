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
from ledger.store.errors import StoreTimeout, StoreUnavailable

ERROR_DOMAIN = "loyalty.v1"

STATUS_OF: list[tuple[type[LedgerError], grpc.StatusCode]] = [
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Conflict, grpc.StatusCode.ABORTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (StoreTimeout, grpc.StatusCode.DEADLINE_EXCEEDED),
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


def to_status(error: LedgerError) -> grpc.Status:
    code = status_code_of(error)
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
            )
        )
    ]
    if isinstance(error, InvalidArgument):
        details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=violation.field, description=violation.description
                        )
                        for violation in error.violations
                    ]
                )
            )
        )
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=error.message, details=details
    )
    converted: grpc.Status = rpc_status.to_status(status)
    return converted
