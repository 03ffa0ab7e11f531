"""Rewards through gRPC: a catalogue in the program, RedeemReward in one step and through
ReservePoints / CommitReservation, the refusals a storefront branches on, and bad catalogue
settings refused naming each field with nothing appended."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import grpc
import psycopg
from google.protobuf import field_mask_pb2

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, earn, enroll, request_id, unique
from tests.e2e.errors import failure

FAILED = grpc.StatusCode.FAILED_PRECONDITION
ROOT = Path(__file__).resolve().parents[2]


def catalogue() -> list[pb.Reward]:
    return [
        pb.Reward(
            reward_id="five-off",
            display_name="$5 off",
            points_cost=500,
            amount_off=pb.Money(currency_code="USD", units=5),
        ),
        pb.Reward(
            reward_id="mug",
            display_name="A mug",
            points_cost=200,
            free_product_sku="MUG-1",
            stock=1,
        ),
        pb.Reward(
            reward_id="ship",
            display_name="Free shipping",
            points_cost=100,
            free_shipping=True,
            limit_per_member=1,
        ),
        pb.Reward(reward_id="tenth", display_name="10% off", points_cost=300, percent_off=10),
    ]


async def program_with_catalogue(api: Api) -> str:
    return await create_program(
        api.stub,
        rewards=catalogue(),
        point_values=[pb.PointValue(value=pb.Money(currency_code="USD", nanos=5_000_000))],
    )


async def redeem(api: Api, account: str, reward_id: str, rid: str = "") -> pb.RedeemRewardResponse:
    return await api.stub.RedeemReward(
        pb.RedeemRewardRequest(request_id=rid or request_id(), account=account, reward_id=reward_id)
    )


async def refusal(api: Api, account: str, reward_id: str) -> tuple[grpc.StatusCode, str]:
    try:
        await redeem(api, account, reward_id)
    except grpc.aio.AioRpcError as error:
        found = failure(error)
        return found.code, found.reason
    raise AssertionError("the redemption was not refused")


async def test_the_catalogue_and_point_values_are_part_of_the_program(api: Api) -> None:
    program_id = await program_with_catalogue(api)

    program = (
        await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))
    ).program

    assert list(program.rewards) == catalogue()
    assert not program.rewards[0].HasField("stock")  # unlimited stays unlimited
    assert program.point_values[0].value == pb.Money(currency_code="USD", nanos=5_000_000)


async def test_redeeming_a_reward_answers_a_code_and_the_reward_and_a_retry_the_same(
    api: Api,
) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 1_200)
    rid = request_id()

    first = await redeem(api, account, "five-off", rid)
    again = await redeem(api, account, "five-off", rid)
    other = await redeem(api, account, "five-off")

    redeemed = first.redeemed_reward
    assert redeemed.reward.amount_off == pb.Money(currency_code="USD", units=5)
    assert (redeemed.points, redeemed.program_revision) == (500, 1)
    assert len(redeemed.redemption_code.replace("-", "")) == 20
    assert again == first  # the same code, not a second redemption
    assert other.redeemed_reward.redemption_code != redeemed.redemption_code
    assert other.account.balances.available == 200
    assert other.account.balances.lifetime_redeemed == 1_000


async def test_refusals_name_why(api: Api) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 1_000)
    await earn(api.stub, other, 150)

    await redeem(api, account, "mug")
    await redeem(api, account, "ship")

    assert await refusal(api, other, "mug") == (FAILED, "REWARD_OUT_OF_STOCK")
    assert await refusal(api, account, "ship") == (FAILED, "REWARD_LIMIT_REACHED")
    assert await refusal(api, other, "five-off") == (FAILED, "INSUFFICIENT_POINTS")
    assert await refusal(api, other, "yacht") == (grpc.StatusCode.NOT_FOUND, "REWARD_NOT_FOUND")


async def test_a_pos_holds_a_reward_until_payment_then_commits_it(api: Api) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 300)
    await earn(api.stub, other, 300)

    reserved = await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(), account=account, reservation_id="till-1", reward_id="mug"
        )
    )
    assert reserved.reservation.points == 200
    assert reserved.account.balances.held == 200
    assert await refusal(api, other, "mug") == (FAILED, "REWARD_OUT_OF_STOCK")

    committed = await api.stub.CommitReservation(
        pb.CommitReservationRequest(
            request_id=request_id(), account=account, reservation_id="till-1"
        )
    )

    assert committed.points_redeemed == 200
    assert committed.redeemed_reward.reward.free_product_sku == "MUG-1"
    assert committed.redeemed_reward.redemption_code
    assert committed.account.balances.held == 0
    assert committed.account.balances.lifetime_redeemed == 200


async def test_canceling_a_reward_hold_gives_points_and_stock_back(api: Api) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 300)
    await earn(api.stub, other, 300)
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(), account=account, reservation_id="till-1", reward_id="mug"
        )
    )

    canceled = await api.stub.CancelReservation(
        pb.CancelReservationRequest(
            request_id=request_id(), account=account, reservation_id="till-1"
        )
    )
    taken = await redeem(api, other, "mug")

    assert canceled.points_released == 200
    assert canceled.account.balances.available == 300
    assert taken.redeemed_reward.reward.free_product_sku == "MUG-1"


async def count_events(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM ledger.events")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_catalogue_that_makes_no_sense_is_refused_naming_each_setting(
    api: Api, database_url: str
) -> None:
    bad = [
        pb.Reward(reward_id="free", display_name="Free", points_cost=0, free_shipping=True),
        pb.Reward(
            reward_id="neg", display_name="Neg", points_cost=10, free_shipping=True, stock=-1
        ),
        pb.Reward(reward_id="big", display_name="Big", points_cost=10, percent_off=101),
        pb.Reward(
            reward_id="fake",
            display_name="Fake",
            points_cost=10,
            amount_off=pb.Money(currency_code="XYZ", units=1),
        ),
        pb.Reward(reward_id="big", display_name="Again", points_cost=10, percent_off=5),
        pb.Reward(reward_id="none", display_name="Nothing", points_cost=10),
    ]
    before = await count_events(database_url)

    try:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(),
                program_id=unique("prog"),
                program=pb.Program(
                    rewards=bad,
                    point_values=[
                        pb.PointValue(value=pb.Money(currency_code="ABC", units=1)),
                        pb.PointValue(value=pb.Money(currency_code="USD")),
                    ],
                ),
            )
        )
    except grpc.aio.AioRpcError as error:
        refused = failure(error)
    else:
        raise AssertionError("the catalogue was accepted")

    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(refused.fields) == sorted(
        [
            "program.rewards[0].points_cost",
            "program.rewards[1].stock",
            "program.rewards[2].percent_off",
            "program.rewards[3].amount_off.currency_code",
            "program.rewards[4].reward_id",
            "program.rewards[5].benefit",
            "program.point_values[0].value.currency_code",
            "program.point_values[1].value",
        ]
    )
    assert await count_events(database_url) == before


async def test_a_lapsed_reward_hold_gives_points_and_stock_back(api: Api, clock: FakeClock) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    other = await enroll(api.stub, program_id)
    await earn(api.stub, account, 300)
    await earn(api.stub, other, 300)
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(),
            account=account,
            reservation_id="till-1",
            reward_id="mug",
            ttl_seconds=60,
        )
    )

    clock.advance(seconds=60)
    taken = await redeem(api, other, "mug")
    holder = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account

    assert taken.redeemed_reward.reward.free_product_sku == "MUG-1"
    assert (holder.balances.available, holder.balances.held) == (300, 0)


async def test_the_cli_redeems_a_reward_and_its_retry_prints_the_same_code(api: Api) -> None:
    program_id = await program_with_catalogue(api)
    account = await enroll(api.stub, program_id)
    await earn(api.stub, account, 500)
    member_id = account.rsplit("/", 1)[1]
    rid = request_id()

    command = [
        sys.executable,
        "-m",
        "service.cli",
        "redeem-reward",
        program_id,
        member_id,
        "five-off",
        "--target",
        api.target,
        "--request-id",
        rid,
    ]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (our own command line, no input)
            command, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
        )

    first = await asyncio.to_thread(run)
    again = await asyncio.to_thread(run)

    assert first.returncode == 0, first.stderr
    printed = json.loads(first.stdout)
    assert printed["redeemedReward"]["reward"]["rewardId"] == "five-off"
    assert printed["redeemedReward"]["redemptionCode"]
    assert printed["account"]["balances"]["available"] == "0"
    assert json.loads(again.stdout) == printed


async def test_raising_the_stock_through_update_program_restocks(api: Api) -> None:
    program_id = await program_with_catalogue(api)
    first = await enroll(api.stub, program_id)
    second = await enroll(api.stub, program_id)
    await earn(api.stub, first, 300)
    await earn(api.stub, second, 300)
    await redeem(api, first, "mug")
    assert await refusal(api, second, "mug") == (FAILED, "REWARD_OUT_OF_STOCK")
    restocked = catalogue()
    restocked[1].stock = 2  # units offered in all: one more than before

    updated = await api.stub.UpdateProgram(
        pb.UpdateProgramRequest(
            request_id=request_id(),
            program=pb.Program(name=f"programs/{program_id}", rewards=restocked),
            update_mask=field_mask_pb2.FieldMask(paths=["rewards"]),
        )
    )
    taken = await redeem(api, second, "mug")

    assert updated.program.revision == 2
    assert list(updated.program.point_values) != []  # outside the mask: kept
    assert taken.redeemed_reward.program_revision == 2
