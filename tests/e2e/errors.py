"""Reading the rich errors (AIP-193) the service sends: google.rpc.Status in the trailers."""

from typing import NamedTuple

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "loyalty.v1"


class Failure(NamedTuple):
    """What a failed call tells a caller that branches on it (never the message text)."""

    code: grpc.StatusCode
    reason: str
    fields: list[str]
    """The BadRequest field violations, in order; empty when there is no BadRequest."""


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    status: status_pb2.Status | None = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} carries no google.rpc.Status"
    return status


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The status's one ErrorInfo, checked to be in the service's domain."""
    infos = []
    for detail in rich_status(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1, f"expected one ErrorInfo, got {len(infos)}"
    assert infos[0].domain == ERROR_DOMAIN
    assert infos[0].reason, "ErrorInfo.reason is empty"
    return infos[0]


def violation_fields(error: grpc.aio.AioRpcError) -> list[str]:
    fields: list[str] = []
    for detail in rich_status(error).details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            fields += [violation.field for violation in bad_request.field_violations]
    return fields


def failure(error: grpc.aio.AioRpcError) -> Failure:
    """(code, reason, [violation fields]) of a failed call."""
    status = rich_status(error)
    assert status.code == error.code().value[0], "Status.code disagrees with the call's code"
    return Failure(error.code(), error_info(error).reason, violation_fields(error))
