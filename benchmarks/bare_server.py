"""The floors' bare gRPC server (benchmarks/account_floor.py, benchmarks/purchase_floor.py):
the health service, which the load generator checks on each channel before it starts, and the
LedgerService methods a floor answers, with nothing else of the service; each in a process of
its own, as the service runs."""

import contextlib
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from benchmarks.harness import ROOT, free_port

SERVING = b"serving"


def unary(
    behaviour: Callable[[Any, Any], Awaitable[Any]], request: Any, response: Any
) -> "grpc.RpcMethodHandler[Any, Any]":
    """A unary method answering with `behaviour`, its messages of the classes given."""
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=request.FromString,
        response_serializer=response.SerializeToString,
    )


async def serve(port: int, methods: Mapping[str, "grpc.RpcMethodHandler[Any, Any]"]) -> None:
    """Serves `methods` of loyalty.v1.LedgerService on 127.0.0.1:`port` until terminated;
    prints SERVING once it listens."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("loyalty.v1.LedgerService", dict(methods)),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(SERVING.decode(), flush=True)
    await server.wait_for_termination()


@contextlib.contextmanager
def running(module: str, *args: str) -> Iterator[tuple[str, int]]:
    """`python -m <module> serve PORT *args` started (its target and pid), stopped after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "serve", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != SERVING:
            raise RuntimeError(f"the bare server of {module} did not start")
        yield f"127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)
