"""StreamEvents through one shared feed: what followers of the stream would notice.

Every subscriber sees every event once, in global order, while writers append; the reads
of the global order follow the appends, not the number of subscribers; a subscriber far
behind catches up and goes live without gap or duplicate; open streams do not hold the
server past its shutdown grace.
"""

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ledger.feed import FeedLimits
from loyalty.v1 import ledger_pb2 as pb
from loyalty.v1 import ledger_pb2_grpc
from service.config import MAX_STREAMS, Settings
from service.server import RunningServer, max_concurrent_rpcs, start_server
from tests.bearer import callers_toml
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id, unique
from tests.e2e.errors import failure
from tests.e2e.streams import Subscriber, settled, stream_all, subscribers, wait_until
from tests.fault.harness import SERVING, open_channel, wait_for_health
from tests.fault.postgres import free_port
from tests.fault.test_kill_service import ServiceProcess

WRITERS = 4
EARNS_PER_WRITER = 30
MANY_SUBSCRIBERS = 20
DELIVERY_SECONDS = 20.0


async def _write(api: Api, accounts: list[str], earns_each: int) -> None:
    """Concurrent writers, one per account, each appending one earn after another."""

    async def writer(account: str) -> None:
        for points in range(1, earns_each + 1):
            await earn(api.stub, account, points)

    await asyncio.gather(*(writer(account) for account in accounts))


async def _follow_under_load(
    api: Api, program: str, accounts: list[str], subscriber_count: int
) -> tuple[int, list[Subscriber], list[str]]:
    """Subscribers follow the program live while the writers append; returns the feed's reads
    of the global order during the load, the subscribers and the events appended."""
    feed = api.running.feed
    await settled(api.running.ledger)
    start = (await stream_all(api.stub, program))[-1].position
    request = pb.StreamEventsRequest(program=program, after_position=start)
    expected_count = len(accounts) * EARNS_PER_WRITER
    async with subscribers(api.stub, request, subscriber_count) as followers:
        await wait_until(
            lambda: feed.live_subscribers == subscriber_count, 10, "every subscriber live"
        )
        reads_before = feed.stats.reads
        await _write(api, accounts, EARNS_PER_WRITER)
        for follower in followers:
            await follower.wait_for(expected_count, DELIVERY_SECONDS)
        reads = feed.stats.reads - reads_before
    appended = [r.entry.event_id for r in await stream_all(api.stub, program, start)]
    assert len(appended) == expected_count
    return reads, followers, appended


async def test_twenty_subscribers_see_every_event_once_in_order_and_share_one_feed_of_reads(
    api: Api,
) -> None:
    program_id = await create_program(api.stub)
    program = f"programs/{program_id}"
    accounts = [await enroll(api.stub, program_id) for _ in range(WRITERS)]

    reads_one, (alone,), appended_one = await _follow_under_load(api, program, accounts, 1)
    reads_many, followers, appended_many = await _follow_under_load(
        api, program, accounts, MANY_SUBSCRIBERS
    )

    assert alone.event_ids == appended_one
    for follower in followers:
        assert follower.error is None
        # Exactly the stored order: no gap, no duplicate, nothing reordered.
        assert follower.event_ids == appended_many
    stats = api.running.feed.stats
    print(
        f"\nFEED reads of the global order under the same load ({len(appended_one)} events"
        f" from {WRITERS} writers): 1 subscriber={reads_one}, {MANY_SUBSCRIBERS}"
        f" subscribers={reads_many}; rounds notified={stats.notified_rounds}"
        f" polled={stats.polled_rounds}"
    )
    # One polling loop per subscriber would read 20 times as often; the shared feed reads as
    # often as appends wake it, whoever listens.
    assert reads_many <= 2 * reads_one + 5, (reads_one, reads_many)


@pytest.fixture
async def small_window_api(database_url: str, clock: FakeClock) -> AsyncIterator[Api]:
    """The real server with a feed window and pages far smaller than the log."""
    settings = Settings(
        auth="none", plaintext=True, listen_address="127.0.0.1:0", sweep_interval_seconds=0
    )
    limits = FeedLimits(page_events=20, window_events=30, queued_events=50, poll_seconds=0.5)
    running = await start_server(settings, database_url, now=clock, feed_limits=limits)
    target = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(target)
    yield Api(running, channel, ledger_pb2_grpc.LedgerServiceStub(channel), target)
    await channel.close()
    await running.stop(1)


async def test_a_subscriber_from_position_zero_past_the_window_catches_up_then_goes_live(
    small_window_api: Api,
) -> None:
    api = small_window_api
    program_id = await create_program(api.stub)
    program = f"programs/{program_id}"
    accounts = [await enroll(api.stub, program_id) for _ in range(3)]
    await _write(api, accounts, 40)  # 124 events of this program, 4 windows' worth
    assert len(await stream_all(api.stub, program)) > 4 * 30

    ours = Subscriber(api.stub, pb.StreamEventsRequest(program=program))
    everyone = Subscriber(api.stub, pb.StreamEventsRequest())
    try:
        # Writers keep appending while both catch up from position 0, and after.
        await _write(api, accounts, 20)
        await wait_until(lambda: api.running.feed.live_subscribers == 2, 20, "both live")
        await _write(api, accounts, 10)
        await settled(api.running.ledger)
        expected_ours = [r.entry.event_id for r in await stream_all(api.stub, program)]
        expected_all = [r.entry.event_id for r in await stream_all(api.stub)]
        await ours.wait_for(len(expected_ours), DELIVERY_SECONDS)
        await everyone.wait_for(len(expected_all), DELIVERY_SECONDS)
    finally:
        await ours.stop()
        await everyone.stop()

    assert ours.error is None and everyone.error is None
    assert ours.event_ids == expected_ours
    assert everyone.event_ids == expected_all
    stats = api.running.feed.stats
    assert stats.catch_up_reads >= len(expected_all) // 20, "they caught up page by page"
    assert stats.events_published > 0, "and then followed the feed live"


async def _live_streams(api: Api, count: int) -> list[Subscriber]:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    request = pb.StreamEventsRequest(program=f"programs/{program_id}")
    streams = [Subscriber(api.stub, request) for _ in range(count)]
    await wait_until(lambda: api.running.feed.live_subscribers == count, 10, "streams live")
    await earn(api.stub, account, 5)
    for stream in streams:
        await stream.wait_for(3, 10)  # created, enrolled, earned: live
    return streams


async def test_the_server_stops_well_within_its_grace_while_live_streams_are_open(
    database_url: str, clock: FakeClock
) -> None:
    settings = Settings(
        auth="none", plaintext=True, listen_address="127.0.0.1:0", sweep_interval_seconds=0
    )
    running: RunningServer = await start_server(settings, database_url, now=clock)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    api = Api(running, channel, ledger_pb2_grpc.LedgerServiceStub(channel), "")
    grace_seconds = 10.0
    try:
        streams = await _live_streams(api, 5)
        began = time.monotonic()
        await running.stop(grace_seconds)
        stopped_after = time.monotonic() - began
        for stream in streams:
            async with asyncio.timeout(5):
                await stream.ended.wait()
    finally:
        await channel.close()

    assert stopped_after < grace_seconds / 2, f"stop took {stopped_after:.1f} s"
    for stream in streams:
        assert stream.error is not None
        # Resumable: UNAVAILABLE says "try again elsewhere from your last position".
        assert failure(stream.error)[:2] == (grpc.StatusCode.UNAVAILABLE, "SERVER_SHUTTING_DOWN")


async def test_a_new_stream_during_shutdown_is_unavailable_not_hung(
    database_url: str, clock: FakeClock
) -> None:
    settings = Settings(
        auth="none", plaintext=True, listen_address="127.0.0.1:0", sweep_interval_seconds=0
    )
    running = await start_server(settings, database_url, now=clock)
    await running.feed.close()  # as the first step of stop() does
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        late = Subscriber(stub, pb.StreamEventsRequest())
        async with asyncio.timeout(5):
            await late.ended.wait()
        # Catch-up-only reads are finite in-flight work: they still run to their end.
        caught_up = await stream_all(stub)
    await running.stop(1)
    assert late.error is not None
    assert failure(late.error)[:2] == (grpc.StatusCode.UNAVAILABLE, "SERVER_SHUTTING_DOWN")
    assert caught_up, "the log is not empty: other tests wrote to it"


async def test_sigterm_ends_live_streams_and_the_process_exits_well_within_its_grace(
    database_url: str, tmp_path: Path
) -> None:
    grace_seconds = 20.0
    service = ServiceProcess(database_url, free_port(), tmp_path / "service.log")
    service.env["LEDGER_SHUTDOWN_GRACE_SECONDS"] = str(int(grace_seconds))
    service.start()
    streams: list[Subscriber] = []
    try:
        async with open_channel(service.target) as channel:
            await wait_for_health(channel, SERVING, within_seconds=30)
            stub = ledger_pb2_grpc.LedgerServiceStub(channel)
            program_id = await create_program(stub)
            await enroll(stub, program_id)
            request = pb.StreamEventsRequest(program=f"programs/{program_id}")
            streams = [Subscriber(stub, request) for _ in range(3)]
            for stream in streams:
                await stream.wait_for(2, 10)  # created, enrolled: now following live
            assert service.process is not None
            began = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            while service.process.poll() is None:
                assert time.monotonic() - began < grace_seconds + 5, service.log_tail()
                await asyncio.sleep(0.05)
            exited_after = time.monotonic() - began
            exit_code = service.process.returncode
            for stream in streams:
                async with asyncio.timeout(5):
                    await stream.ended.wait()
    finally:
        for stream in streams:
            await stream.stop()
        service.stop()

    assert exit_code == 0, service.log_tail()
    assert exited_after < grace_seconds / 2, f"exited {exited_after:.1f} s after SIGTERM"
    for stream in streams:
        assert stream.error is not None
        assert failure(stream.error)[:2] == (grpc.StatusCode.UNAVAILABLE, "SERVER_SHUTTING_DOWN")


LEAKY = "leaky-token-0123456789"
STOREFRONT = "storefront-token-0123456789"
IDLE_STREAMS = 2_000
"""Twice the 1,000 calls that, one client's idle streams, once refused the health check."""


async def test_two_thousand_idle_streams_of_one_caller_leave_health_and_reads_to_the_others(
    database_url: str, clock: FakeClock
) -> None:
    program_id = unique("prog")
    settings = Settings(
        callers=callers_toml(
            ("leaky", LEAKY, ["read", "admin"], [program_id]),
            ("storefront", STOREFRONT, ["read", "write"], [program_id]),
        ),
        plaintext=True,
        listen_address="127.0.0.1:0",
        sweep_interval_seconds=0,
        run_projections=False,
        # The most streams the settings allow, all of them the one leaky caller's.
        max_streams=MAX_STREAMS,
        max_streams_per_caller=MAX_STREAMS,
    )
    assert max_concurrent_rpcs(settings) < IDLE_STREAMS
    running = await start_server(settings, database_url, now=clock)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    storefront = (("authorization", f"Bearer {STOREFRONT}"),)
    await stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)]
            ),
        ),
        metadata=(("authorization", f"Bearer {LEAKY}"),),
    )
    enrolled = await stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(), parent=f"programs/{program_id}", member_id=unique("m")
        ),
        metadata=storefront,
    )
    try:
        # As a client leaking streams would. Each follows a program with nothing new to
        # catch up on, so they go live at once, and stay idle.
        request = pb.StreamEventsRequest(program=f"programs/{program_id}")
        leaky = (("authorization", f"Bearer {LEAKY}"),)
        async with subscribers(stub, request, IDLE_STREAMS, leaky) as streams:
            await wait_until(
                lambda: (
                    running.feed.live_subscribers == settings.max_streams
                    and sum(stream.ended.is_set() for stream in streams)
                    == IDLE_STREAMS - settings.max_streams
                ),
                within_seconds=120,
                what="the streams over the limit refused, the rest live",
            )
            errors = [stream.error for stream in streams if stream.error is not None]
            # Past the server's concurrent-call limit (the pools' sum and the health
            # checks' room) grpc stops taking calls for a moment: those the client gave up
            # on meanwhile end CANCELLED. The rest are refused by the streams' limits.
            refused = {
                failure(error)[:2] for error in errors if error.code() != grpc.StatusCode.CANCELLED
            }
            account = await stub.GetAccount(
                pb.GetAccountRequest(name=enrolled.account.name), metadata=storefront, timeout=5
            )
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
            assert running.feed.live_subscribers == settings.max_streams
    finally:
        await channel.close()
        await running.stop(1)

    assert refused == {(grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_STREAMS_FOR_CALLER")}
    assert account.account.name == enrolled.account.name
    assert health.status == health_pb2.HealthCheckResponse.SERVING
