"""Every call's span, access line and metrics, in one interceptor outside all the others.

One place sees a call from its first byte to its status, so its span, its access line and
its latency histogram agree on the status and the time. opentelemetry-instrumentation-grpc's
aio interceptor was the first choice, but it learns a status only from `context.abort` and
`set_code`: the service answers every error with `abort_with_status` (with its ErrorInfo and
BadRequest details), which it does not see, so each refused call showed as OK.

The span is the call's current span while the handler runs: the ledger writes its trace id
into the events' metadata, the group-commit append links to it, the store's queries are its
children, and every log line of the call carries its trace and span ids.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Token
from dataclasses import dataclass
from typing import Any, cast

import grpc
import structlog
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from service.auth import NAME_FIELDS, authenticated_caller, programs_named

HEALTH_SERVICE = "grpc.health.v1.Health"
"""Probed every few seconds by Kubernetes: neither traced nor logged at INFO."""
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""The codes that mark a server span as an error (OpenTelemetry's gRPC conventions); the
others are the caller's mistakes, and leave the span's status unset."""
LATENCY_BUCKETS_SECONDS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

Behaviour = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


@dataclass(frozen=True)
class _Method:
    full_name: str
    """package.Service/Method, the span's name."""
    service: str
    name: str


class TelemetryInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each handler with its span (when tracing), access line (when logging them) and
    metrics (when measuring)."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        *,
        tracing: bool,
        measuring: bool,
        access_log: bool,
    ) -> None:
        self._tracer = tracer_provider.get_tracer("loyalty-ledger.rpc") if tracing else None
        self._access = structlog.get_logger("access") if access_log else None
        meter = meter_provider.get_meter("loyalty-ledger.rpc")
        self._latency = (
            meter.create_histogram(
                "rpc.server.call.duration",
                unit="s",
                description="Time from a call's arrival to its status, by method and status",
                explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS_SECONDS),
            )
            if measuring
            else None
        )
        self._open_streams = (
            meter.create_up_down_counter(
                "rpc.server.open_streams",
                unit="{stream}",
                description="Server-streaming calls (StreamEvents) open now, by method",
            )
            if measuring
            else None
        )
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> "grpc.RpcMethodHandler[Any, Any] | None":
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        full_method: str = handler_call_details.method
        wrapped = self._wrapped.get(full_method)
        if wrapped is None:
            service, _, name = full_method.lstrip("/").partition("/")
            wrapped = self._wrap(handler, _Method(f"{service}/{name}", service, name))
            self._wrapped[full_method] = wrapped
        return wrapped

    def _wrap(
        self, handler: "grpc.RpcMethodHandler[Any, Any]", method: _Method
    ) -> "grpc.RpcMethodHandler[Any, Any]":
        observe = self._observer(method)
        if handler.unary_unary is not None:
            behaviour: Any = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                call = observe.begin(request, context)
                try:
                    response = await behaviour(request, context)
                except BaseException as error:
                    observe.end(call, context, error)
                    raise
                observe.end(call, context, None)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream_behaviour: Any = handler.unary_stream
            open_streams = self._open_streams
            attributes = {"rpc.method": method.name}

            async def unary_stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                call = observe.begin(request, context)
                if open_streams is not None:
                    open_streams.add(1, attributes)
                try:
                    async for response in stream_behaviour(request, context):
                        yield response
                except BaseException as error:
                    observe.end(call, context, error)
                    raise
                finally:
                    if open_streams is not None:
                        open_streams.add(-1, attributes)
                observe.end(call, context, None)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:  # reflection
            bidi: Any = handler.stream_stream

            async def stream_stream(
                requests: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                call = observe.begin(None, context)
                try:
                    async for response in bidi(requests, context):
                        yield response
                except BaseException as error:
                    observe.end(call, context, error)
                    raise
                observe.end(call, context, None)

            return grpc.stream_stream_rpc_method_handler(
                stream_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no handler of another kind is served

    def _observer(self, method: _Method) -> "_Observer":
        health = method.service == HEALTH_SERVICE
        return _Observer(
            method,
            None if health else self._tracer,
            self._access,
            self._latency,
            access_level="debug" if health else "info",
        )


@dataclass
class _Call:
    started: float
    span: trace.Span | None
    token: "Token[otel_context.Context] | None"
    request: Any


class _Observer:
    """What one method's wrappers do at the start and at the end of each call."""

    def __init__(
        self,
        method: _Method,
        tracer: trace.Tracer | None,
        access: Any,
        latency: metrics.Histogram | None,
        access_level: str,
    ) -> None:
        self._method = method
        self._tracer = tracer
        self._access = access
        self._latency = latency
        self._access_level = access_level
        self._base_attributes = {
            "rpc.system": "grpc",
            "rpc.service": method.service,
            "rpc.method": method.name,
        }

    def begin(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> _Call:
        if self._tracer is None:
            return _Call(time.perf_counter(), None, None, request)
        # Only the headers the propagators read (traceparent, tracestate, baggage by
        # default): most calls carry none, and then there is nothing to extract.
        fields = propagate.get_global_textmap().fields
        carrier = {
            key: value
            for key, value in (context.invocation_metadata() or ())
            if key in fields and isinstance(value, str)
        }
        span = self._tracer.start_span(
            self._method.full_name,
            context=propagate.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes=self._base_attributes,
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        return _Call(time.perf_counter(), span, token, request)

    def end(
        self,
        call: _Call,
        context: grpc.aio.ServicerContext[Any, Any],
        error: BaseException | None,
    ) -> None:
        seconds = time.perf_counter() - call.started
        code = _status_of(context, error)
        if self._latency is not None:
            self._latency.record(
                seconds, {"rpc.method": self._method.name, "rpc.grpc.status_code": code.name}
            )
        caller = authenticated_caller()
        program = _program(call.request)
        if call.span is not None:
            call.span.set_attribute("rpc.grpc.status_code", code.value[0])
            if caller is not None:
                call.span.set_attribute("loyalty.caller", caller)
            if program is not None:
                call.span.set_attribute("loyalty.program", program)
            if code in SERVER_ERRORS:
                call.span.set_status(Status(StatusCode.ERROR, code.name))
        if self._access is not None:
            # Logged while the span is current, so the line carries its trace and span ids.
            getattr(self._access, self._access_level)(
                "rpc",
                method=self._method.full_name,
                caller=caller,
                program=program,
                status=code.name,
                latency_ms=round(seconds * 1_000, 3),
                request_id=_request_id(call.request),
            )
        if call.span is not None:
            call.span.end()
            assert call.token is not None
            otel_context.detach(call.token)


def _status_of(
    context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None
) -> grpc.StatusCode:
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    # None until a code is set (typeshed's stub says otherwise): an abort sets one.
    code = cast("grpc.StatusCode | None", context.code())
    if code is not None:
        return code
    # A handler's exception that is not an abort: grpc answers UNKNOWN.
    return grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN


def _program(request: Any) -> str | None:
    """The program(s) the request names (a transfer may name two), for the access line."""
    if request is None or not hasattr(request, "DESCRIPTOR"):
        return None
    if not _names_programs(request.DESCRIPTOR):
        return None
    programs = programs_named(request)
    return None if programs is None else ",".join(sorted(programs))


@functools.cache
def _names_programs(descriptor: Any) -> bool:
    """Whether requests of this type have a field that may name a program (most reads and
    writes do; health and reflection requests do not)."""
    return any(name in descriptor.fields_by_name for name in NAME_FIELDS)


def _request_id(request: Any) -> str | None:
    if request is None or not hasattr(request, "DESCRIPTOR"):
        return None
    if "request_id" not in request.DESCRIPTOR.fields_by_name:
        return None
    return str(request.request_id) or None
