"""The real server, as the `api` fixture starts it, with a referral fingerprint key set
(LEDGER_REFERRAL_FINGERPRINT_KEY): for the tests of self-referral by fingerprint."""

import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2

from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.conftest import Api, FakeClock, wait_for_health

FINGERPRINT_KEY = "the operator's secret"


@contextlib.asynccontextmanager
async def keyed_api(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        referral_fingerprint_key=FINGERPRINT_KEY,
    )
    running = await start_server(settings, database_url, now=clock)
    target = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(target)
    await wait_for_health(channel, health_pb2.HealthCheckResponse.SERVING)
    try:
        yield Api(running, channel, ledger_pb2_grpc.LedgerServiceStub(channel), target)
    finally:
        await channel.close()
        await running.stop(1)
