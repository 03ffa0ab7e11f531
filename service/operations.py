"""The standard google.longrunning.Operations service over this process's SimulateProgramChange
operations (service/simulations.py). Names are `programs/{program_id}/operations/{id}`, so
authorization (service/auth.py) binds each call to the program its name holds: a caller sees
the operations of its own programs only."""

import asyncio
from typing import Any

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from ledger.domain.errors import InvalidArgument
from service.servicer import unary
from service.simulations import Simulations

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_PAGE_BYTES = 3 * 1024 * 1024
"""A page stops before this many bytes (a done operation holds its whole response, up to
about 2.5 MB), under the 4 MiB a message may have."""
MAX_WAIT_SECONDS = 60.0
"""WaitOperation waits at most this long (or its `timeout`, or the call's deadline)."""
PAGE_TOKEN_PREFIX = "o"  # noqa: S105 (a page token, not a secret)
MAX_TOKEN_DIGITS = 18


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    def __init__(self, simulations: Simulations) -> None:
        self._simulations = simulations

    @unary
    async def GetOperation(
        self, request: operations_pb2.GetOperationRequest, context: Any
    ) -> operations_pb2.Operation:
        return self._simulations.get(request.name).operation()

    @unary
    async def ListOperations(
        self, request: operations_pb2.ListOperationsRequest, context: Any
    ) -> operations_pb2.ListOperationsResponse:
        """`name` is a prefix of the names listed (`programs/shop`: that program's); no
        filter is offered yet."""
        if request.filter.strip():
            raise InvalidArgument.of(
                "filter", "no filter is offered: list by `name` prefix", reason="INVALID_FILTER"
            )
        if not 0 <= request.page_size <= 10 * MAX_PAGE_SIZE:
            raise InvalidArgument.of(
                "page_size",
                f"must be 0 to {10 * MAX_PAGE_SIZE} ({MAX_PAGE_SIZE} served at most)",
                reason="PAGE_SIZE_OUT_OF_RANGE",
            )
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = _sequence_of(request.page_token)
        page = operations_pb2.ListOperationsResponse()
        last = 0
        for simulation in self._simulations.listed(request.name, after):
            operation = simulation.operation()
            full = len(page.operations) == size or (
                page.operations and page.ByteSize() + operation.ByteSize() > MAX_PAGE_BYTES
            )
            if full:
                page.next_page_token = f"{PAGE_TOKEN_PREFIX}{last}"
                break
            page.operations.append(operation)
            last = simulation.sequence
        return page

    @unary
    async def CancelOperation(
        self, request: operations_pb2.CancelOperationRequest, context: Any
    ) -> empty_pb2.Empty:
        self._simulations.cancel(request.name)
        return empty_pb2.Empty()

    @unary
    async def DeleteOperation(
        self, request: operations_pb2.DeleteOperationRequest, context: Any
    ) -> empty_pb2.Empty:
        self._simulations.delete(request.name)
        return empty_pb2.Empty()

    @unary
    async def WaitOperation(
        self, request: operations_pb2.WaitOperationRequest, context: Any
    ) -> operations_pb2.Operation:
        """The operation once done, or as it is after the wait (a timeout is no error)."""
        simulation = self._simulations.get(request.name)
        wait = MAX_WAIT_SECONDS
        if request.HasField("timeout"):
            wait = min(wait, max(request.timeout.ToTimedelta().total_seconds(), 0.0))
        remaining = context.time_remaining()
        if remaining is not None:
            wait = min(wait, max(remaining - 0.1, 0.0))
        if not simulation.done:
            try:
                async with asyncio.timeout(wait):
                    await simulation.finished.wait()
            except TimeoutError:
                pass  # answered as it stands
        return simulation.operation()


def _sequence_of(token: str) -> int:
    if not token:
        return 0
    digits = token.removeprefix(PAGE_TOKEN_PREFIX)
    if (
        not token.startswith(PAGE_TOKEN_PREFIX)
        or not digits.isdigit()
        or len(digits) > MAX_TOKEN_DIGITS
    ):
        raise InvalidArgument.of(
            "page_token", "is not a token this service returned", reason="PAGE_TOKEN_INVALID"
        )
    return int(digits)
