"""RecordAction, GrantBonus and milestones as a storefront sees them, through a real channel."""

import asyncio
import json
from typing import Any

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from service import cli
from tests.conftest import Api, FakeClock, create_program, enroll, request_id, unique
from tests.e2e.errors import failure

ACTOR = (("loyalty-actor", "agent-7"),)

ACTIONS = [
    pb.RewardedAction(
        action_id="review",
        points=50,
        caps=[
            pb.ActionCap(period=pb.CAP_PERIOD_DAY, max_times=2),
            pb.ActionCap(period=pb.CAP_PERIOD_MONTH, max_points=400),
        ],
    ),
    pb.RewardedAction(
        action_id="welcome",
        points=100,
        caps=[pb.ActionCap(period=pb.CAP_PERIOD_LIFETIME, max_times=1)],
    ),
    pb.RewardedAction(action_id="newsletter_signup", points=0),
]
MILESTONES = [
    pb.Milestone(milestone_id="second_order", points=200, order_count=2),
    pb.Milestone(
        milestone_id="spent_100_usd",
        points=500,
        lifetime_spend=pb.Money(currency_code="USD", units=100),
    ),
]


async def act(
    api: Api, account: str, action_id: str, reference: str = ""
) -> pb.RecordActionResponse:
    return await api.stub.RecordAction(
        pb.RecordActionRequest(
            request_id=request_id(), account=account, action_id=action_id, reference=reference
        )
    )


async def data_of_last(api: Api, account: str, event_type: str) -> dict[str, Any]:
    response = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=[event_type], page_size=100)
    )
    data: dict[str, Any] = json.loads(response.entries[-1].data_json)
    return data


async def test_actions_earn_up_to_their_caps_and_a_capped_one_answers_ok_with_why(
    api: Api, clock: FakeClock
) -> None:
    program_id = await create_program(api.stub, time_zone="Europe/Paris", actions=ACTIONS)
    account = await enroll(api.stub, program_id)

    answers = [await act(api, account, "review", f"rev-{n}") for n in range(3)]

    assert [(a.points, a.outcome, a.capped_by) for a in answers] == [
        (50, pb.ACTION_OUTCOME_REWARDED, pb.CAP_PERIOD_UNSPECIFIED),
        (50, pb.ACTION_OUTCOME_REWARDED, pb.CAP_PERIOD_UNSPECIFIED),
        (0, pb.ACTION_OUTCOME_CAP_REACHED, pb.CAP_PERIOD_DAY),
    ]
    assert answers[-1].account.balances.available == 100
    recorded = await data_of_last(api, account, "ActionRecorded")
    assert (recorded["reference"], recorded["day"], recorded["program_revision"]) == (
        "rev-2",
        "2026-03-01",
        1,
    )

    clock.advance(hours=12)  # 00:00 in Paris: a new day there
    next_day = await act(api, account, "review")
    assert next_day.points == 50


async def test_welcome_counts_once_and_a_tracked_action_gives_nothing(api: Api) -> None:
    program_id = await create_program(api.stub, actions=ACTIONS)
    account = await enroll(api.stub, program_id)

    first = await act(api, account, "welcome")
    second = await act(api, account, "welcome")
    tracked = await act(api, account, "newsletter_signup")

    assert (first.points, second.points, second.capped_by) == (100, 0, pb.CAP_PERIOD_LIFETIME)
    assert (tracked.points, tracked.outcome) == (0, pb.ACTION_OUTCOME_NOT_REWARDED)
    assert tracked.account.balances.available == 100


async def test_a_retried_action_is_answered_as_the_first_and_counts_once(api: Api) -> None:
    program_id = await create_program(api.stub, actions=ACTIONS)
    account = await enroll(api.stub, program_id)
    request = pb.RecordActionRequest(request_id=request_id(), account=account, action_id="review")

    first = await api.stub.RecordAction(request)
    retried = await api.stub.RecordAction(request)

    assert retried == first
    assert (await act(api, account, "review")).points == 50  # the second of the day


async def test_an_action_the_program_does_not_define_is_a_failed_precondition(api: Api) -> None:
    program_id = await create_program(api.stub, actions=ACTIONS)
    account = await enroll(api.stub, program_id)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await act(api, account, "video_review")

    assert failure(refused.value)[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ACTION_NOT_DEFINED",
    )
    response = await api.stub.GetAccount(pb.GetAccountRequest(name=account))
    assert response.account.version == 1  # the enrolment alone


async def test_a_bonus_is_granted_with_its_actor_as_its_own_kind(api: Api) -> None:
    program_id = await create_program(api.stub, points_expiry_days=365)
    account = await enroll(api.stub, program_id)

    response = await api.stub.GrantBonus(
        pb.GrantBonusRequest(
            request_id=request_id(),
            account=account,
            points=250,
            reason_code="vip_surprise",
            note="ten years with us",
        ),
        metadata=ACTOR,
    )

    assert response.account.balances.available == 250
    assert len(response.account.expiring_points) == 1
    granted = await data_of_last(api, account, "BonusGranted")
    assert (granted["actor"], granted["reason_code"]) == ("agent-7", "vip_surprise")


async def test_milestones_are_reached_once_and_clawed_back_by_a_full_refund(api: Api) -> None:
    program_id = await create_program(api.stub, milestones=MILESTONES)
    account = await enroll(api.stub, program_id)
    orders = [unique("order") for _ in range(3)]

    answers = []
    for order_id, units in zip(orders, (60, 50, 10), strict=True):
        answers.append(
            await api.stub.RecordPurchase(
                pb.RecordPurchaseRequest(
                    request_id=request_id(),
                    account=account,
                    order_id=order_id,
                    amount=pb.Money(currency_code="USD", units=units),
                )
            )
        )
    assert [(a.milestone_points, list(a.milestone_ids)) for a in answers] == [
        (0, []),
        (700, ["second_order", "spent_100_usd"]),
        (0, []),
    ]
    assert answers[-1].account.balances.available == 120 + 700

    refunded = await api.stub.RefundPurchase(
        pb.RefundPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=orders[1],
            amount=pb.Money(currency_code="USD", units=50),
        )
    )

    assert refunded.points_clawed_back == 50
    assert refunded.milestone_points_clawed_back == 700
    assert list(refunded.milestone_ids_clawed_back) == ["second_order", "spent_100_usd"]
    assert refunded.account.balances.available == 70


async def test_senseless_action_and_milestone_settings_are_refused_naming_each(
    api: Api,
) -> None:
    program = pb.Program(
        actions=[
            pb.RewardedAction(action_id="review", points=-1, caps=[pb.ActionCap()]),
            pb.RewardedAction(
                action_id="review", points=5, caps=[pb.ActionCap(period=pb.CAP_PERIOD_DAY)]
            ),
        ],
        milestones=[
            pb.Milestone(milestone_id="none", points=10, order_count=0),
            pb.Milestone(
                milestone_id="odd", points=10, lifetime_spend=pb.Money(currency_code="XYZ", units=1)
            ),
        ],
    )
    program_id = unique("prog")

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id=program_id, program=program)
        )

    code, _, fields = failure(refused.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [
        "program.actions[0].caps[0].period",
        "program.milestones[1].lifetime_spend.currency_code",
        "program.actions[0].points",
        "program.actions[1].action_id",
        "program.actions[1].caps[0]",
        "program.milestones[0].order_count",
    ]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_program_answers_its_actions_and_milestones_as_set(api: Api) -> None:
    program_id = await create_program(
        api.stub,
        actions=ACTIONS,
        milestones=MILESTONES,
        milestone_refund_policy=pb.MILESTONE_REFUND_POLICY_KEEP,
    )

    response = await api.stub.GetProgram(pb.GetProgramRequest(name=f"programs/{program_id}"))

    assert list(response.program.actions) == ACTIONS
    assert list(response.program.milestones) == MILESTONES
    assert response.program.milestone_refund_policy == pb.MILESTONE_REFUND_POLICY_KEEP


def printed_answer(output: str) -> dict[str, Any]:
    """The JSON answer the CLI printed, among the server's log lines (same process here)."""
    lines = output.splitlines()
    start, end = lines.index("{"), lines.index("}")
    answer: dict[str, Any] = json.loads("\n".join(lines[start : end + 1]))
    return answer


async def test_the_cli_records_an_action_and_grants_a_bonus(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    program_id = await create_program(api.stub, actions=ACTIONS)
    account = await enroll(api.stub, program_id)
    member_id = account.rsplit("/", 1)[1]
    common = [program_id, member_id, "--target", api.target]

    acted = await asyncio.to_thread(
        cli.main, ["record-action", *common[:2], "review", "--reference", "rev-9", *common[2:]]
    )
    action_answer = printed_answer(capsys.readouterr().out)
    granted = await asyncio.to_thread(
        cli.main,
        ["grant-bonus", *common[:2], "75", "apology", "--actor", "desk-3", *common[2:]],
    )
    bonus_answer = printed_answer(capsys.readouterr().out)

    assert (acted, granted) == (0, 0)
    assert (action_answer["points"], action_answer["outcome"]) == ("50", "ACTION_OUTCOME_REWARDED")
    assert bonus_answer["account"]["balances"]["available"] == "125"
    assert (await data_of_last(api, account, "BonusGranted"))["actor"] == "desk-3"
