"""Authentication and authorization of every call, before its handler runs.

A caller proves who it is with a bearer token (`authorization: Bearer ...`) or, under mutual
TLS, with its client certificate (service/callers.py). Each RPC needs one scope, and every
program a request names must be one of the caller's programs: a storefront token for one
brand can never read, write or stream another brand's accounts. The actor written into each
event is the authenticated caller's name; a caller allowed to act on behalf of others may add
`loyalty-on-behalf-of`, and the `loyalty-actor` header of unauthenticated development mode is
ignored. Health checks need no credentials (Kubernetes probes carry none); reflection needs an
authenticated caller.
"""

import contextvars
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import grpc
import structlog
from google.protobuf.message import Message

from ledger.feed import TooManySubscribers
from service.callers import Caller, CallerRegistry
from service.errors import PermissionDenied, Unauthenticated, to_status
from service.limits import set_caller

log = structlog.get_logger(__name__)

ON_BEHALF_METADATA_KEY = "loyalty-on-behalf-of"
LEDGER_SERVICE = "loyalty.v1.LedgerService"
OPERATIONS_SERVICE = "google.longrunning.Operations"
OPEN_SERVICES = frozenset({"grpc.health.v1.Health"})
"""Answer without credentials: a probe carries none, and health tells nothing about data."""

RPC_SCOPES: dict[str, str] = {
    "CreateProgram": "admin",
    "UpdateProgram": "admin",
    "GetProgram": "read",
    "ListProgramRevisions": "read",
    "EnrollMember": "write",
    "RecordPurchase": "write",
    "ConfirmOrder": "write",
    "RefundPurchase": "write",
    "EarnPoints": "write",
    "RecordAction": "write",
    "GrantBonus": "admin",
    "ChangeTier": "admin",
    "RedeemReward": "redeem",
    "AdjustPoints": "admin",
    "TransferPoints": "transfer",
    "RedeemPoints": "redeem",
    "ReservePoints": "redeem",
    "CommitReservation": "redeem",
    "CancelReservation": "redeem",
    "GetAccount": "read",
    "ListLedgerEntries": "read",
    "ListReferrals": "read",
    "GetBalanceAsOf": "read",
    "StreamEvents": "read",
    "ImportHistory": "import",
    "ListAccounts": "read",
    "ForgetMember": "admin",
    # stages: feedback, loyalty stage, account views
    "RecordFeedback": "write",
    "BatchGetAccounts": "read",
    "StreamStageChanges": "read",
    # statistics
    "GetProgramStatistics": "read",
    # what-if
    "SimulateProgramChange": "audit",
}
"""The scope each RPC needs. An RPC missing here is refused to everyone (and a test fails)."""

OPERATION_SCOPES: dict[str, str] = {
    "GetOperation": "audit",
    "ListOperations": "audit",
    "WaitOperation": "audit",
    "CancelOperation": "audit",
    "DeleteOperation": "audit",
}
"""google.longrunning.Operations serves SimulateProgramChange's operations: the scope that
starts one reads it. Their names hold their program, so a caller sees its programs' only."""
SCOPES_BY_SERVICE = {LEDGER_SERVICE: RPC_SCOPES, OPERATIONS_SERVICE: OPERATION_SCOPES}

NAME_FIELDS = (
    "program_id",
    "name",
    "parent",
    "account",
    "program",
    "source_account",
    "destination_account",
    "names",
)
"""Request fields that name programs (resource names, or CreateProgram's bare id)."""
_PROGRAM_OF_NAME = re.compile(r"programs/([a-z][a-z0-9-]{0,63})(?:/|$)")

_ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("actor")
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller")


def authenticated_caller() -> str | None:
    """The name of the caller of the call being served, once known (its access line)."""
    return _CALLER.get(None)


def authenticated_actor() -> str | None:
    """The actor of the call being served, when authentication is on (None when off)."""
    return _ACTOR.get(None)


def programs_named(request: Message) -> set[str] | None:
    """The program ids `request` names; None when it names none (every program: a
    StreamEvents without a program), or names one in a form no program can have."""
    found: set[str] = set()
    descriptor = request.DESCRIPTOR
    for field_name in NAME_FIELDS:
        field = descriptor.fields_by_name.get(field_name)
        if field is None:
            continue
        value = getattr(request, field_name)
        if field.type == field.TYPE_MESSAGE and not field.is_repeated:
            # UpdateProgram's `program` is the settings, named by their `name`; CreateProgram's
            # leaves it empty (its id is program_id).
            value = getattr(value, "name", "")
        elif field.type != field.TYPE_STRING:
            continue
        values: Iterable[str] = [value] if isinstance(value, str) else value
        for text in values:
            if not text:
                continue
            if field_name == "program_id":
                found.add(text)
                continue
            match = _PROGRAM_OF_NAME.match(text)
            if match is None:
                return None
            found.add(match.group(1))
    return found or None


def _bearer(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "authorization must be 'Bearer <token>'", reason="TOKEN_MALFORMED"
                )
            return token.strip()
    return None


def _header(metadata: Iterable[tuple[str, str | bytes]], name: str) -> str | None:
    for key, value in metadata:
        if key == name and isinstance(value, str):
            return value
    return None


class Authenticator:
    def __init__(self, registry: CallerRegistry, now: Callable[[], datetime]) -> None:
        self._registry = registry
        self._now = now

    def caller_of(self, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        metadata = context.invocation_metadata() or ()
        callers = self._registry.current()
        token = _bearer(metadata)
        if token is not None:
            # Looked up by its hash: how long the look-up takes says nothing of the token.
            found = callers.by_token(token)
            if found is None:
                raise Unauthenticated("unknown token", reason="TOKEN_UNKNOWN")
            if found.expires is not None and found.expires <= self._now():
                raise Unauthenticated(
                    "the token has expired", reason="TOKEN_EXPIRED", caller=found.caller.name
                )
            return found.caller
        for key in ("x509_common_name", "x509_subject_alternative_name"):
            for name in context.auth_context().get(key, ()):
                caller = callers.certificates.get(name.decode(errors="replace"))
                if caller is not None:
                    return caller
        raise Unauthenticated(
            "no credentials: send 'authorization: Bearer <token>' or a client certificate",
            reason="CREDENTIALS_MISSING",
        )

    def authorize(
        self,
        caller: Caller,
        method: str,
        request: Message,
        context: grpc.aio.ServicerContext[Any, Any],
        service: str = LEDGER_SERVICE,
    ) -> str:
        """The actor of the call, once `caller` may make it."""
        scope = SCOPES_BY_SERVICE[service].get(method)
        if scope is None or scope not in caller.scopes:
            raise PermissionDenied(
                f"{caller.name} lacks the scope {method} needs",
                reason="SCOPE_MISSING",
                caller=caller.name,
                scope=scope or "none",
            )
        if not caller.every_program:
            programs = programs_named(request)
            if programs is None or not all(caller.may_touch(p) for p in programs):
                raise PermissionDenied(
                    f"{caller.name} may not touch this program",
                    reason="PROGRAM_NOT_ALLOWED",
                    caller=caller.name,
                )
        on_behalf = _header(context.invocation_metadata() or (), ON_BEHALF_METADATA_KEY)
        if on_behalf is None:
            return caller.name
        if not caller.act_on_behalf:
            raise PermissionDenied(
                f"{caller.name} may not act on behalf of others",
                reason="ON_BEHALF_NOT_ALLOWED",
                caller=caller.name,
            )
        return f"{caller.name}:{on_behalf}"[:128]


Behaviour = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each handler so that it runs only for a caller allowed to make the call."""

    def __init__(self, authenticator: Authenticator, max_streams_per_caller: int) -> None:
        self._authenticator = authenticator
        self._max_streams_per_caller = max_streams_per_caller
        self._open_streams: dict[str, int] = {}
        """Live streams of each caller, so one caller's leak cannot take every stream."""
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> "grpc.RpcMethodHandler[Any, Any] | None":
        handler = await continuation(handler_call_details)
        full_method: str = handler_call_details.method
        service, _, method = full_method.lstrip("/").partition("/")
        if handler is None or service in OPEN_SERVICES:
            return handler
        wrapped = self._wrapped.get(full_method)
        if wrapped is None:
            wrapped = self._wrap(handler, service, method)
            self._wrapped[full_method] = wrapped
        return wrapped

    def _wrap(
        self, handler: "grpc.RpcMethodHandler[Any, Any]", service: str, method: str
    ) -> "grpc.RpcMethodHandler[Any, Any]":
        authenticator = self._authenticator
        ours = service in SCOPES_BY_SERVICE
        open_streams = self._open_streams
        most = self._max_streams_per_caller

        async def admit(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
            try:
                caller = authenticator.caller_of(context)
                _CALLER.set(caller.name)
                if ours:
                    _ACTOR.set(authenticator.authorize(caller, method, request, context, service))
                    set_caller(caller.name, caller.limits)
            except (Unauthenticated, PermissionDenied) as error:
                if "caller" in error.metadata:
                    _CALLER.set(error.metadata["caller"])
                log.warning(
                    "call_denied",
                    rpc=method,
                    reason=error.reason,
                    caller=error.metadata.get("caller", ""),
                    peer=context.peer(),
                )
                await context.abort_with_status(to_status(error))
                raise AssertionError("abort always raises") from None
            return caller

        if handler.unary_unary is not None:
            behaviour: Any = handler.unary_unary  # a coroutine function under grpc.aio

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await admit(request, context)
                return await behaviour(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream_behaviour: Any = handler.unary_stream

            async def unary_stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> Any:
                caller = await admit(request, context)
                if open_streams.get(caller.name, 0) >= most:
                    await context.abort_with_status(
                        to_status(
                            TooManySubscribers(
                                f"{caller.name} has {most} streams open, its most",
                                reason="TOO_MANY_STREAMS_FOR_CALLER",
                            )
                        )
                    )
                open_streams[caller.name] = open_streams.get(caller.name, 0) + 1
                try:
                    async for response in stream_behaviour(request, context):
                        yield response
                finally:
                    open_streams[caller.name] -= 1

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:  # reflection
            bidi: Any = handler.stream_stream

            async def stream_stream(
                requests: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> Any:
                await admit(None, context)
                async for response in bidi(requests, context):
                    yield response

            return grpc.stream_stream_rpc_method_handler(
                stream_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        raise AssertionError(f"no handler kind for {service}/{method}")
