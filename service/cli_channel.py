"""How the terminal client reaches the server: TLS when given a CA (mutual TLS with a
certificate and key), a bearer token from a file or LEDGER_TOKEN, and errors printed with
their reason and every field violation."""

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from service.auth import ON_BEHALF_METADATA_KEY
from service.servicer import ACTOR_METADATA_KEY


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    environ = os.environ
    parser.add_argument(
        "--token-file",
        default=environ.get("LEDGER_TOKEN_FILE"),
        help="file holding the bearer token (default $LEDGER_TOKEN_FILE; or $LEDGER_TOKEN)",
    )
    parser.add_argument(
        "--tls-ca",
        default=environ.get("LEDGER_TLS_CA_FILE"),
        help="CA certificate to verify the server with: turns TLS on (default $LEDGER_TLS_CA_FILE)",
    )
    parser.add_argument(
        "--tls-cert",
        default=environ.get("LEDGER_TLS_CLIENT_CERT_FILE"),
        help="client certificate, for mutual TLS (default $LEDGER_TLS_CLIENT_CERT_FILE)",
    )
    parser.add_argument(
        "--tls-key",
        default=environ.get("LEDGER_TLS_CLIENT_KEY_FILE"),
        help="its private key (default $LEDGER_TLS_CLIENT_KEY_FILE)",
    )
    parser.add_argument(
        "--on-behalf-of", help="the person the call is made for (callers allowed to say so)"
    )
    parser.add_argument(
        "--actor", help="who is asking, in unauthenticated development mode (loyalty-actor)"
    )


class CallMetadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the same metadata to every call."""

    def __init__(self, metadata: list[tuple[str, str]]) -> None:
        self._metadata = metadata

    def _add(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), *self._metadata])

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._add(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._add(details), request)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def open_channel(args: argparse.Namespace) -> grpc.Channel:
    if args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(args.tls_ca),
            private_key=_read(args.tls_key),
            certificate_chain=_read(args.tls_cert),
        )
        channel = grpc.secure_channel(args.target, credentials)
    else:
        channel = grpc.insecure_channel(args.target)
    metadata = []
    token = (
        Path(args.token_file).read_text().strip()
        if args.token_file
        else os.environ.get("LEDGER_TOKEN", "").strip()
    )
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    if args.on_behalf_of:
        metadata.append((ON_BEHALF_METADATA_KEY, args.on_behalf_of))
    if args.actor:
        metadata.append((ACTOR_METADATA_KEY, args.actor))
    return grpc.intercept_channel(channel, CallMetadata(metadata)) if metadata else channel


def error_report(error: grpc.RpcError) -> str:
    """The error as one JSON line: code, message, reason and each bad field."""
    report: dict[str, Any] = {"code": error.code().name, "message": error.details()}
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            report["reason"] = info.reason
            if info.metadata:
                report["metadata"] = dict(info.metadata)
        elif detail.Unpack(bad_request):
            report["field_violations"] = [
                {"field": v.field, "description": v.description, "reason": v.reason}
                for v in bad_request.field_violations
            ]
    return json.dumps(report)
