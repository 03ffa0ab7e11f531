"""The network between the service and PostgreSQL drops every connection, again and again.

A small TCP proxy on 127.0.0.1 sits between the service's pool and the test's own
PostgreSQL; at random moments of the burst it resets every connection through it (both
sides, at once), so statements are cut before they run, while they run, and after their
commit but before the result reaches the service. Clients retry with their request ids.
No response may be INTERNAL, and afterwards no acknowledged write is lost or doubled.
"""

import asyncio
import contextlib
import random
import time

import pytest

from loyalty.v1 import ledger_pb2_grpc
from service.config import Settings
from service.server import start_server
from tests.fault.harness import (
    SERVING,
    Tally,
    burst_reached,
    cancel,
    create_program_and_members,
    finish,
    open_channel,
    verify_ledger,
    wait_for_health,
    wait_until,
)
from tests.fault.postgres import PostgresInstance

MEMBERS = 10
REQUESTS_PER_MEMBER = 40
CUTS = 12
SEED = 3
PUMP_BYTES = 65_536


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream_port>; `cut()` resets every link."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0
        self.cuts = 0
        self.links_cut = 0
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> int:
        """Resets (RST, no FIN) both sides of every open link; returns how many."""
        links = list(self._links)
        for client, upstream in links:
            client.transport.abort()
            upstream.transport.abort()
        self._links.clear()
        self.cuts += 1
        self.links_cut += len(links)
        return len(links)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._pumps.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._links.discard(link)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._pumps.difference_update(pumps)
            writer.transport.abort()
            up_writer.transport.abort()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(PUMP_BYTES):
                sink.write(data)
                await sink.drain()


@pytest.mark.fault
async def test_connections_cut_at_random_moments_lose_and_double_nothing(
    postgres: PostgresInstance,
) -> None:
    proxy = CuttingProxy(postgres.port)
    await proxy.start()
    proxied_url = postgres.url.replace(f":{postgres.port}/", f":{proxy.port}/")
    settings = Settings(
        auth="none",
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        health_check_interval_seconds=0.2,
    )
    running = await start_server(settings, proxied_url)
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    rng = random.Random(SEED)
    began = time.monotonic()
    try:
        async with open_channel(f"127.0.0.1:{running.port}") as channel:
            await wait_for_health(channel, SERVING, within_seconds=10)
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            setup = await create_program_and_members(stub, tally, MEMBERS, seed=SEED)
            total = MEMBERS * REQUESTS_PER_MEMBER
            tasks = [
                asyncio.create_task(client.run(stub, tally, REQUESTS_PER_MEMBER))
                for client in setup.clients
            ]
            links_per_cut: list[int] = []
            for threshold in sorted(rng.uniform(0.05, 0.95) for _ in range(CUTS)):
                await wait_until(
                    burst_reached(setup.clients, threshold * total),
                    within_seconds=60,
                    what=f"{threshold:.0%} of the burst acknowledged",
                )
                # A random moment inside whatever round trips are under way.
                await asyncio.sleep(rng.uniform(0, 0.004))
                links_per_cut.append(proxy.cut())
            await finish(tasks, within_seconds=90)

            verified = await verify_ledger(postgres.url, stub, tally, setup)

        assert sum(client.sent for client in setup.clients) == total
        assert proxy.cuts == CUTS
        assert sum(links_per_cut) > 0
        assert set(tally.codes) <= {"OK", "UNAVAILABLE"}, tally.summary()  # no INTERNAL, no hang
        print(
            f"\nFAULT connection_cuts: requests={total} (+{len(setup.acked)} setup)"
            f" cuts={proxy.cuts} links_reset={proxy.links_cut} per_cut={links_per_cut}"
            f" connections_accepted={proxy.accepted}"
            f" attempts={tally.attempts} retries={tally.retries}"
            f" retried_requests={sum(client.retried_requests for client in setup.clients)}"
            f" replies_lost_after_commit={verified.committed_before_failure}"
            f" codes[{tally.summary()}] events={verified.events}"
            f" elapsed_s={time.monotonic() - began:.1f}"
        )
    finally:
        await cancel(tasks)
        await running.stop(1)
        await proxy.close()
