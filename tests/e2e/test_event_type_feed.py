"""StreamEvents filtered by event type, as a service that wants only some kinds of events
follows the log: it gets those and nothing else, in order, resumes from the last one it got
without a gap, follows live past the feed's window, and a type the ledger does not record
is refused naming the field."""

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, create_program, earn, enroll, request_id
from tests.e2e.errors import failure
from tests.e2e.streams import Subscriber, settled, stream_all, wait_until

DELIVERY_SECONDS = 20.0
WANTED = ("PointsEarned", "PointsRedeemed")


async def _activity(api: Api, accounts: list[str], rounds: int) -> None:
    """Earns and redemptions, interleaved with adjustments (a type nobody here asks for)."""
    for number in range(rounds):
        for account in accounts:
            await earn(api.stub, account, 10 + number)
            if number % 2:
                await api.stub.RedeemPoints(
                    pb.RedeemPointsRequest(
                        request_id=request_id(), account=account, points=5, reference="r"
                    )
                )
            await api.stub.AdjustPoints(
                pb.AdjustPointsRequest(
                    request_id=request_id(), account=account, points_delta=1, reason_code="gift"
                )
            )


async def test_only_events_of_the_types_asked_for_come_in_order_and_resume_without_a_gap(
    api: Api,
) -> None:
    program_id = await create_program(api.stub)
    program = f"programs/{program_id}"
    accounts = [await enroll(api.stub, program_id) for _ in range(3)]
    await _activity(api, accounts, 6)
    await settled(api.running.ledger)
    everything = await stream_all(api.stub, program)
    expected = [r.entry.event_id for r in everything if r.entry.event_type in WANTED]
    assert 0 < len(expected) < len(everything)
    assert {r.entry.event_type for r in everything} > set(WANTED)

    call = api.stub.StreamEvents(
        pb.StreamEventsRequest(program=program, catch_up_only=True, event_types=WANTED)
    )
    got = [response async for response in call]
    assert [r.entry.event_id for r in got] == expected
    assert {r.entry.event_type for r in got} == set(WANTED)

    # A follower that stopped after the fifth resumes from its position: the rest, once.
    call = api.stub.StreamEvents(
        pb.StreamEventsRequest(
            program=program,
            catch_up_only=True,
            event_types=WANTED,
            after_position=got[4].position,
        )
    )
    assert [r.entry.event_id async for r in call] == expected[5:]


async def test_a_live_follower_of_some_types_gets_those_appended_while_it_follows(
    api: Api,
) -> None:
    program_id = await create_program(api.stub)
    program = f"programs/{program_id}"
    accounts = [await enroll(api.stub, program_id) for _ in range(2)]
    await settled(api.running.ledger)
    start = (await stream_all(api.stub, program))[-1].position
    follower = Subscriber(
        api.stub,
        pb.StreamEventsRequest(program=program, after_position=start, event_types=["PointsEarned"]),
    )
    try:
        await wait_until(lambda: api.running.feed.live_subscribers >= 1, 10, "live")
        await _activity(api, accounts, 4)
        await settled(api.running.ledger)
        appended = await stream_all(api.stub, program, start)
        expected = [r.entry.event_id for r in appended if r.entry.event_type == "PointsEarned"]
        await follower.wait_for(len(expected), DELIVERY_SECONDS)
        # Nothing else arrives: an earn after the rest is the next thing it gets.
        await earn(api.stub, accounts[0], 99)
        await follower.wait_for(len(expected) + 1, DELIVERY_SECONDS)
    finally:
        await follower.stop()
    assert follower.error is None
    assert follower.event_ids[:-1] == expected
    assert follower.received[-1].entry.points_delta == 99


@pytest.mark.parametrize(
    ("types", "field"),
    [
        (["PointsEarned", "PointsEarnt"], "event_types[1]"),
        ([""], "event_types[0]"),
        (["pointsearned"], "event_types[0]"),
        (["PointsEarned"] * 65, "event_types"),
    ],
)
async def test_a_type_the_ledger_does_not_record_is_refused_naming_the_field(
    api: Api, types: list[str], field: str
) -> None:
    call = api.stub.StreamEvents(pb.StreamEventsRequest(catch_up_only=True, event_types=types))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in call:
            pass
    code, _, fields = failure(refused.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [field]
