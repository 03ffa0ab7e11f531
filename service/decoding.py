"""Requests whose bytes do not decode get INVALID_ARGUMENT, not UNKNOWN.

grpc's server answers UNKNOWN ("Unexpected <class 'DecodeError'>") when a request
deserializer raises, which tells a caller nothing it can act on and looks like a server bug.
This interceptor wraps the deserializer of every unary-request method: bytes that do not
decode become a marker, and the handler answers INVALID_ARGUMENT (reason MALFORMED_REQUEST)
without running.
"""

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ledger.domain.errors import InvalidArgument
from service.errors import to_status


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


def _status(method: str) -> grpc.Status:
    return to_status(
        InvalidArgument.of(
            "request",
            f"is not a valid request message for {method}",
            reason="MALFORMED_REQUEST",
        )
    )


class RejectMalformedRequests(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        status = _status(handler_call_details.method)
        parse = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                if request is MALFORMED:
                    await context.abort_with_status(status)
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=parse,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            streaming = handler.unary_stream

            async def unary_stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                if request is MALFORMED:
                    await context.abort_with_status(status)
                produced = streaming(request, context)
                if inspect.isasyncgen(produced):
                    async for item in produced:
                        yield item
                else:
                    await produced

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=parse,
                response_serializer=handler.response_serializer,
            )
        return handler
