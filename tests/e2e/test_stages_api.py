"""Loyalty stages through the real channel, on the test's fixed clock: a member moves through
every stage, lapses with no event of theirs, comes back; GetAccount, BatchGetAccounts,
ListAccounts' stage filter and the resumable stage change feed all show it; a rebuild of the
stage view gives the same view.

The stage view is a projection a moment behind the log: each step waits for the server's
own runner to catch up. A lapse needs no event of the member's, only the runner's next look
after the clock passed its moment: an append elsewhere wakes it."""

import io
from datetime import timedelta

import grpc
import psycopg
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ledger.projections.catalog import MEMBER_STAGES
from ledger.projections.workers import rebuild_projection
from loyalty.v1 import ledger_pb2 as pb
from service.account_reads import MAX_BATCH_GET_NAMES
from tests.conftest import T0, Api, FakeClock, create_program, enroll, request_id
from tests.e2e.errors import failure
from tests.projections.helpers import wait_caught_up

DAY = timedelta(days=1)
STAGES = pb.StageSettings(
    lapsed_after_days=60, action_purchases=3, action_window_days=30, review_action_ids=["review"]
)
S = pb.LoyaltyStage


async def stages_program(api: Api) -> str:
    return await create_program(
        api.stub,
        stage_settings=STAGES,
        actions=[pb.RewardedAction(action_id="review", points=10)],
    )


async def buy(api: Api, account: str) -> None:
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=request_id(),
            amount=pb.Money(currency_code="USD", units=20),
        )
    )


async def review(api: Api, account: str) -> None:
    await api.stub.RecordAction(
        pb.RecordActionRequest(request_id=request_id(), account=account, action_id="review")
    )


async def caught_up(api: Api, database_url: str, program_id: str) -> None:
    """Wakes the stage view's runner with an append elsewhere, then waits for it."""
    await enroll(api.stub, program_id)
    await wait_caught_up(database_url, "member_stages")


async def stage_of(api: Api, account: str) -> tuple[int, int]:
    found = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account
    return found.stage, found.stage_time.ToSeconds()


async def feed(api: Api, program_id: str, after: str = "") -> list[pb.StreamStageChangesResponse]:
    call = api.stub.StreamStageChanges(
        pb.StreamStageChangesRequest(
            program=f"programs/{program_id}", after_position=after, catch_up_only=True
        )
    )
    return [change async for change in call]


def seconds(moment: timedelta) -> int:
    return int((T0 + moment).timestamp())


async def test_a_member_moves_through_every_stage_lapses_and_comes_back(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    # Given a program whose members lapse after 60 quiet days
    program_id = await stages_program(api)
    account = await enroll(api.stub, program_id)
    await caught_up(api, database_url, program_id)
    assert (await stage_of(api, account))[0] == S.LOYALTY_STAGE_ENROLLED
    seen = []
    # When the member buys, reviews, buys again and a third time within 30 days
    for step, act in ((0, buy), (1, review), (10, buy), (20, buy)):
        clock.current = T0 + step * DAY
        await act(api, account)
        await caught_up(api, database_url, program_id)
        seen.append(await stage_of(api, account))
    # Then each step moved the stage, at the step's time
    assert seen == [
        (S.LOYALTY_STAGE_COGNITIVE, seconds(0 * DAY)),
        (S.LOYALTY_STAGE_AFFECTIVE, seconds(1 * DAY)),
        (S.LOYALTY_STAGE_CONATIVE, seconds(10 * DAY)),
        (S.LOYALTY_STAGE_ACTION, seconds(20 * DAY)),
    ]

    # When 60 days pass without a purchase, the member does nothing, the runner looks
    clock.current = T0 + 59 * DAY
    await caught_up(api, database_url, program_id)
    assert (await stage_of(api, account))[0] == S.LOYALTY_STAGE_ACTION
    clock.current = T0 + 85 * DAY
    await caught_up(api, database_url, program_id)
    # Then the member lapsed at the moment the 60 days ran out
    assert await stage_of(api, account) == (S.LOYALTY_STAGE_LAPSED, seconds(80 * DAY))

    # When the lapsed member buys again, they come back (conative: a repeat buyer)
    clock.current = T0 + 90 * DAY
    await buy(api, account)
    await caught_up(api, database_url, program_id)
    assert await stage_of(api, account) == (S.LOYALTY_STAGE_CONATIVE, seconds(90 * DAY))

    # And the feed tells the whole story, resumable from any position it gave
    changes = [c for c in await feed(api, program_id) if c.account == account]
    assert [(c.stage_change.from_stage, c.stage_change.to_stage) for c in changes] == [
        (S.LOYALTY_STAGE_ENROLLED, S.LOYALTY_STAGE_COGNITIVE),
        (S.LOYALTY_STAGE_COGNITIVE, S.LOYALTY_STAGE_AFFECTIVE),
        (S.LOYALTY_STAGE_AFFECTIVE, S.LOYALTY_STAGE_CONATIVE),
        (S.LOYALTY_STAGE_CONATIVE, S.LOYALTY_STAGE_ACTION),
        (S.LOYALTY_STAGE_ACTION, S.LOYALTY_STAGE_LAPSED),
        (S.LOYALTY_STAGE_LAPSED, S.LOYALTY_STAGE_CONATIVE),
    ]
    assert [c.cause_event_type for c in changes] == [
        "PurchaseRecorded",
        "ActionRecorded",
        "PurchaseRecorded",
        "PurchaseRecorded",
        "",
        "PurchaseRecorded",
    ]
    assert changes[4].cause_event_id == "" and changes[4].change_time.ToSeconds() == seconds(
        80 * DAY
    )
    resumed = await feed(api, program_id, after=changes[3].position)
    assert [c.position for c in resumed] == [c.position for c in changes[4:]]


async def test_the_stage_filter_lists_the_lapsed_members(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await stages_program(api)
    early, late, never = [await enroll(api.stub, program_id) for _ in range(3)]
    await buy(api, early)
    clock.current = T0 + 30 * DAY
    await buy(api, late)
    clock.current = T0 + 70 * DAY
    await caught_up(api, database_url, program_id)

    lapsed = await api.stub.ListAccounts(
        pb.ListAccountsRequest(parent=f"programs/{program_id}", filter='stage = "lapsed"')
    )
    buyers = await api.stub.ListAccounts(
        pb.ListAccountsRequest(
            parent=f"programs/{program_id}", filter='stage = "cognitive" AND available >= 20'
        )
    )

    assert [(a.name, a.stage) for a in lapsed.accounts] == [(early, S.LOYALTY_STAGE_LAPSED)]
    assert [a.name for a in buyers.accounts] == [late]
    assert never not in {a.name for a in lapsed.accounts}


@pytest.mark.parametrize(
    ("filter_text", "problem"),
    [('stage = "sleepy"', "sleepy"), ('stage > "lapsed"', "only ="), ("stage = 3", "3")],
)
async def test_a_bad_stage_filter_is_refused(api: Api, filter_text: str, problem: str) -> None:
    program_id = await create_program(api.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=filter_text)
        )

    assert failure(refused.value)[:3] == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FILTER",
        ["filter"],
    )


async def test_batch_get_answers_every_account_in_order_with_its_stage(
    api: Api, database_url: str
) -> None:
    program_id = await stages_program(api)
    accounts = [await enroll(api.stub, program_id) for _ in range(5)]
    await buy(api, accounts[3])
    await caught_up(api, database_url, program_id)
    names = [accounts[3], accounts[0], accounts[3], accounts[4]]

    answer = await api.stub.BatchGetAccounts(pb.BatchGetAccountsRequest(names=names))

    assert [a.name for a in answer.accounts] == names
    assert [a.stage for a in answer.accounts] == [
        S.LOYALTY_STAGE_COGNITIVE,
        S.LOYALTY_STAGE_ENROLLED,
        S.LOYALTY_STAGE_COGNITIVE,
        S.LOYALTY_STAGE_ENROLLED,
    ]
    single = await api.stub.GetAccount(pb.GetAccountRequest(name=accounts[3]))
    assert answer.accounts[0] == single.account


async def test_batch_get_with_a_missing_member_is_not_found_naming_it_and_answers_none(
    api: Api,
) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)
    names = [account, f"programs/{program_id}/accounts/nobody", account]

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.BatchGetAccounts(pb.BatchGetAccountsRequest(names=names))

    assert failure(refused.value).code == grpc.StatusCode.NOT_FOUND
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure(refused.value).reason == "ACCOUNT_NOT_FOUND"


@pytest.mark.parametrize(("count", "field"), [(0, "names"), (MAX_BATCH_GET_NAMES + 1, "names")])
async def test_batch_get_takes_1_to_100_names(api: Api, count: int, field: str) -> None:
    program_id = await create_program(api.stub)
    account = await enroll(api.stub, program_id)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.BatchGetAccounts(pb.BatchGetAccountsRequest(names=[account] * count))

    assert failure(refused.value)[::2] == (grpc.StatusCode.INVALID_ARGUMENT, [field])
    full = await api.stub.BatchGetAccounts(
        pb.BatchGetAccountsRequest(names=[account] * MAX_BATCH_GET_NAMES)
    )
    assert len(full.accounts) == MAX_BATCH_GET_NAMES


async def test_batch_get_refuses_a_name_outside_the_parent_naming_it(api: Api) -> None:
    program_id, other_id = await create_program(api.stub), await create_program(api.stub)
    names = [await enroll(api.stub, program_id), await enroll(api.stub, other_id)]

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.BatchGetAccounts(
            pb.BatchGetAccountsRequest(parent=f"programs/{program_id}", names=names)
        )

    assert failure(refused.value)[::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["names[1]"])


async def test_a_bad_feed_position_is_refused(api: Api) -> None:
    program_id = await create_program(api.stub)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await feed(api, program_id, after="not-a-position")

    assert failure(refused.value)[::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["after_position"])


def stage_view(database_url: str, program_id: str) -> tuple[list[tuple[object, ...]], ...]:
    with psycopg.connect(database_url) as connection:
        members = connection.execute(
            "SELECT member_key, stage, stage_time, purchases, lapse_due_time"
            " FROM ledger.member_stages WHERE program_id = %s ORDER BY member_key",
            [program_id],
        ).fetchall()
        changes = connection.execute(
            "SELECT member_key, at_transaction::text, at_position, ordinal, change_time,"
            " from_stage, to_stage, cause_event_id FROM ledger.member_stage_changes"
            " WHERE program_id = %s AND cause_event_id IS NOT NULL ORDER BY 2, 3, 4",
            [program_id],
        ).fetchall()
        lapses = connection.execute(
            "SELECT member_key, change_time, from_stage FROM ledger.member_stage_changes"
            " WHERE program_id = %s AND cause_event_id IS NULL ORDER BY 1, 2",
            [program_id],
        ).fetchall()
    return members, changes, lapses


async def test_a_rebuild_of_the_stage_view_gives_the_same_view(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await stages_program(api)
    accounts = [await enroll(api.stub, program_id) for _ in range(4)]
    for day, index in ((0, 0), (1, 1), (2, 0), (3, 0), (5, 2), (8, 1)):
        clock.current = T0 + day * DAY
        await buy(api, accounts[index])
    await review(api, accounts[2])
    clock.current = T0 + 100 * DAY
    await caught_up(api, database_url, program_id)
    before = stage_view(database_url, program_id)

    result = await rebuild_projection(database_url, MEMBER_STAGES, io.StringIO(), now=clock)

    assert result.events > 0
    assert stage_view(database_url, program_id) == before
    assert len(before[2]) == 3, "three buyers lapsed"


async def test_senseless_stage_settings_are_refused_naming_each(api: Api) -> None:
    program = pb.Program(
        earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
        stage_settings=pb.StageSettings(
            lapsed_after_days=20, action_purchases=1, action_window_days=30
        ),
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(request_id=request_id(), program_id="stages", program=program)
        )

    assert failure(refused.value)[::2] == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ["program.stage_settings.action_purchases", "program.stage_settings.action_window_days"],
    )


async def test_one_stage_threshold_is_updated_by_its_mask_path(api: Api) -> None:
    program_id = await stages_program(api)

    updated = await api.stub.UpdateProgram(
        pb.UpdateProgramRequest(
            request_id=request_id(),
            program=pb.Program(
                name=f"programs/{program_id}",
                stage_settings=pb.StageSettings(lapsed_after_days=365),
            ),
            update_mask=FieldMask(paths=["stage_settings.lapsed_after_days"]),
        )
    )

    assert updated.program.stage_settings == pb.StageSettings(
        lapsed_after_days=365,
        action_purchases=3,
        action_window_days=30,
        review_action_ids=["review"],
    )
