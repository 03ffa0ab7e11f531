"""Requests whose bytes do not decode get INVALID_ARGUMENT, not UNKNOWN (LedgerService's, and
google.longrunning.Operations').

grpc's server answers UNKNOWN ("Unexpected <class 'DecodeError'>") when a request
deserializer raises, which tells a caller nothing it can act on and looks like a server bug.
So the service is registered here, from its descriptor, with deserializers that turn bytes
that do not decode into a marker, and handlers that answer such a request INVALID_ARGUMENT
(reason MALFORMED_REQUEST) without running. Built once at start-up: nothing is added per call.
"""

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor

from ledger.domain.errors import InvalidArgument
from loyalty.v1 import ledger_pb2
from service.errors import to_status

SERVICE = ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"]


class _Malformed:
    """What a request that did not decode deserializes to."""


MALFORMED = _Malformed()


def _tolerant(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception:  # any failure to decode is the caller's bytes
            return MALFORMED

    return parse


def _unary(behaviour: Any, status: grpc.Status) -> Any:
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if request is MALFORMED:
            await context.abort_with_status(status)
        return await behaviour(request, context)

    return handle


def _streaming(behaviour: Any, status: grpc.Status) -> Any:
    async def handle(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        if request is MALFORMED:
            await context.abort_with_status(status)
        produced = behaviour(request, context)
        if inspect.isasyncgen(produced):
            async for item in produced:
                yield item
        else:
            await produced

    return handle


Around = Callable[[str, Callable[..., Any]], Callable[..., Any]]
"""Wraps a unary method's behaviour, given the method's name (service/limits.py's admission)."""


def add_ledger_service(
    servicer: object, server: grpc.aio.Server, around_unary: Around | None = None
) -> None:
    """What the generated add_LedgerServiceServicer_to_server does, with tolerant decoding."""
    add_tolerant_service(servicer, server, SERVICE, around_unary)


def add_tolerant_service(
    servicer: object,
    server: grpc.aio.Server,
    service: ServiceDescriptor,
    around_unary: Around | None = None,
) -> None:
    """`servicer`'s methods as `service` names them, each with tolerant decoding, and each
    unary one inside `around_unary`."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        status = to_status(
            InvalidArgument.of(
                "request",
                f"is not a valid {method.input_type.name} message",
                reason="MALFORMED_REQUEST",
            )
        )
        behaviour = getattr(servicer, method.name)
        if around_unary is not None and not method.server_streaming:
            behaviour = around_unary(method.name, behaviour)
        assert not method.client_streaming, "every request of the API is a single message"
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        wrap = _streaming if method.server_streaming else _unary
        handlers[method.name] = make(
            wrap(behaviour, status),
            request_deserializer=_tolerant(request_type.FromString),
            response_serializer=response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)
