"""Tiers in the views other services read, through the real channel on the test's fixed clock:
StreamStageChanges serves tier and stage changes in one order, resumable from any position it
gave and the same after a rebuild of the view; ListAccounts' `tier` filter answers exactly the
members in a tier and shows each one's tier, a tier the program does not have is refused
naming the filter. The migrations that brought the tiers to the views fill a slot live before
them as the runners fill it.

The views are projections a moment behind the log: each test waits for the server's own
runner to catch up, as test_list_accounts.py does."""

import io
from datetime import timedelta
from importlib import resources

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from psycopg import sql

from ledger.projections.catalog import MEMBER_STAGES
from ledger.projections.workers import rebuild_projection
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, create_program, enroll, request_id
from tests.e2e.errors import failure, rich_status
from tests.projections.helpers import wait_caught_up

TIERS = pb.TierSettings(
    levels=[
        pb.Tier(name="silver", threshold=400),
        pb.Tier(name="gold", threshold=1_500, earn_multiplier_percent=150),
        pb.Tier(name="platinum", threshold=4_000, earn_multiplier_percent=200),
    ],
    basis=pb.TIER_BASIS_POINTS_EARNED,
    window=pb.TIER_WINDOW_ROLLING_MONTHS,
    window_months=12,
    downgrade=pb.TIER_DOWNGRADE_ONE_TIER,
)


async def tiered_program(api: Api, **settings: object) -> str:
    return await create_program(api.stub, tiers=TIERS, **settings)


async def earn_points(api: Api, account: str, points: int) -> None:
    await api.stub.EarnPoints(
        pb.EarnPointsRequest(
            request_id=request_id(), account=account, points=points, reason="campaign"
        )
    )


async def change_tier(api: Api, account: str, tier: str) -> None:
    await api.stub.ChangeTier(
        pb.ChangeTierRequest(
            request_id=request_id(), account=account, tier=tier, reason_code="goodwill"
        )
    )


S = pb.LoyaltyStage


async def buy(api: Api, account: str) -> None:
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=request_id(),
            amount=pb.Money(currency_code="USD", units=20),
        )
    )


async def feed(
    api: Api, program_id: str, after: str = "", kinds: tuple[pb.ChangeKind.ValueType, ...] = ()
) -> list[pb.StreamStageChangesResponse]:
    call = api.stub.StreamStageChanges(
        pb.StreamStageChangesRequest(
            program=f"programs/{program_id}",
            after_position=after,
            catch_up_only=True,
            kinds=kinds,
        )
    )
    return [change async for change in call]


def told(change: pb.StreamStageChangesResponse) -> tuple[object, ...]:
    """What a change says, whichever kind it is."""
    if change.WhichOneof("change") == "tier_change":
        tier = change.tier_change
        return ("tier", tier.from_tier, tier.to_tier, tier.reason, tier.qualifying_figure)
    stage = change.stage_change
    return ("stage", stage.from_stage, stage.to_stage)


async def test_the_feed_serves_tier_and_stage_changes_in_one_resumable_order(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    # Given a member of a tiered program who buys, is upgraded, buys again, is moved up by hand
    program_id = await tiered_program(api)
    other = await enroll(api.stub, program_id)
    account = await enroll(api.stub, program_id)
    clock.current = T0 + timedelta(days=1)
    await buy(api, account)
    clock.current = T0 + timedelta(days=2)
    await earn_points(api, account, 2_000)
    await earn_points(api, other, 500)
    clock.current = T0 + timedelta(days=3)
    await buy(api, account)
    clock.current = T0 + timedelta(days=4)
    await change_tier(api, account, "platinum")
    await wait_caught_up(database_url, "member_stages")

    # When the whole feed is read
    changes = await feed(api, program_id)
    mine = [change for change in changes if change.account == account]

    # Then the member's stage and tier changes come in the order they happened
    assert [told(change) for change in mine] == [
        ("stage", S.LOYALTY_STAGE_ENROLLED, S.LOYALTY_STAGE_COGNITIVE),
        ("tier", "", "gold", "qualified", 2_020),
        ("stage", S.LOYALTY_STAGE_COGNITIVE, S.LOYALTY_STAGE_CONATIVE),
        ("tier", "gold", "platinum", "manual", 2_050),
    ]
    assert [change.change_time.ToDatetime() for change in mine] == [
        (T0 + timedelta(days=day)).replace(tzinfo=None) for day in (1, 2, 3, 4)
    ]
    assert [change.cause_event_type for change in mine] == [
        "PurchaseRecorded",
        "TierChanged",
        "PurchaseRecorded",
        "TierChanged",
    ]
    assert [told(change) for change in changes if change.account == other] == [
        ("tier", "", "silver", "qualified", 500)
    ]
    # And resuming after any position it gave skips nothing and repeats nothing
    for index, change in enumerate(changes):
        resumed = await feed(api, program_id, after=change.position)
        assert [c.position for c in resumed] == [c.position for c in changes[index + 1 :]]

    # And a caller asking for one kind gets those changes alone, at the same positions
    for kind, name in (
        (pb.CHANGE_KIND_TIER, "tier_change"),
        (pb.CHANGE_KIND_STAGE, "stage_change"),
    ):
        only = [change for change in changes if change.WhichOneof("change") == name]
        assert await feed(api, program_id, kinds=(kind,)) == only
        assert await feed(api, program_id, after=only[0].position, kinds=(kind,)) == only[1:]
    assert await feed(api, program_id, kinds=(pb.CHANGE_KIND_TIER, pb.CHANGE_KIND_STAGE)) == changes

    # When the stage view is rebuilt from the log
    result = await rebuild_projection(database_url, MEMBER_STAGES, io.StringIO(), now=clock)
    assert result.events > 0
    # Then the feed is the same, change for change and position for position
    assert await feed(api, program_id) == changes


@pytest.mark.parametrize(
    ("kinds", "field"),
    [
        ((pb.CHANGE_KIND_UNSPECIFIED,), "kinds[0]"),
        ((pb.CHANGE_KIND_TIER, 7), "kinds[1]"),
        ((pb.CHANGE_KIND_TIER, pb.CHANGE_KIND_STAGE, pb.CHANGE_KIND_TIER), "kinds[2]"),
    ],
)
async def test_a_bad_kind_of_change_is_refused_naming_it(
    api: Api, kinds: tuple[pb.ChangeKind.ValueType, ...], field: str
) -> None:
    program_id = await tiered_program(api)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await feed(api, program_id, kinds=kinds)
    assert failure(refused.value)[::2] == (grpc.StatusCode.INVALID_ARGUMENT, [field])


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    """What each field violation of a refusal says."""
    said = []
    for detail in rich_status(error).details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            said += [violation.description for violation in bad_request.field_violations]
    return said


async def listed(api: Api, program_id: str, filter_text: str) -> dict[str, str]:
    """Account name to the tier name ListAccounts shows, for every account the filter passes."""
    page = await api.stub.ListAccounts(
        pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=filter_text)
    )
    assert not page.next_page_token
    return {account.name: account.tier.tier for account in page.accounts}


async def test_the_tier_filter_lists_exactly_the_members_in_the_tier(
    api: Api, database_url: str
) -> None:
    # Given members upgraded to gold, to silver, none, one changed down by hand, one up
    program_id = await tiered_program(api)
    gold = [await enroll(api.stub, program_id) for _ in range(2)]
    for account in gold:
        await earn_points(api, account, 2_000)
    silver = await enroll(api.stub, program_id)
    await earn_points(api, silver, 500)
    newcomer = await enroll(api.stub, program_id)
    demoted = await enroll(api.stub, program_id)
    await earn_points(api, demoted, 2_000)
    await change_tier(api, demoted, "")
    promoted = await enroll(api.stub, program_id)
    await earn_points(api, promoted, 2_000)
    await change_tier(api, promoted, "platinum")
    await wait_caught_up(database_url, "member_directory")

    # When ListAccounts is asked for each tier, Then it answers exactly the members in it
    assert await listed(api, program_id, 'tier = "gold"') == dict.fromkeys(gold, "gold")
    assert await listed(api, program_id, 'tier = "silver"') == {silver: "silver"}
    assert await listed(api, program_id, 'tier = "platinum"') == {promoted: "platinum"}
    assert await listed(api, program_id, 'tier = "gold" AND available >= 2000') == dict.fromkeys(
        gold, "gold"
    )
    # And "" is the members below the lowest tier, whether they ever had one or not
    assert await listed(api, program_id, 'tier = ""') == {newcomer: "", demoted: ""}
    # And unfiltered, every account shows its tier
    assert await listed(api, program_id, "") == {
        **dict.fromkeys(gold, "gold"),
        silver: "silver",
        newcomer: "",
        demoted: "",
        promoted: "platinum",
    }


@pytest.mark.parametrize(
    ("filter_text", "problem"),
    [
        ('tier = "diamond"', "'diamond' is not one of the program's"),
        ('tier = "Gold"', "'Gold' is not one of the program's"),
        ("tier = gold", "tier takes a name in double quotes"),
        ('tier > "gold"', "tier takes only ="),
        ('tier = "gold" AND tier = "silver"', "tier may be compared once"),
    ],
)
async def test_a_bad_tier_filter_is_refused_naming_the_filter(
    api: Api, filter_text: str, problem: str
) -> None:
    program_id = await tiered_program(api)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=filter_text)
        )
    assert failure(refused.value) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FILTER",
        ["filter"],
    )
    (said,) = violations(refused.value)
    assert problem in said


async def test_a_program_without_tiers_takes_only_the_empty_tier(api: Api) -> None:
    program_id = await create_program(api.stub)
    await enroll(api.stub, program_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", filter='tier = "gold"')
        )
    assert failure(refused.value)[2] == ["filter"]


def _migration_statement(file: str, starts: str) -> str:
    """The one statement of a migration that starts with `starts` (statements end a line)."""
    text = resources.files("ledger.store").joinpath("migrations", file).read_text("utf-8")
    found = [
        statement
        for statement in text.split(";\n")
        if "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
        .strip()
        .startswith(starts)
    ]
    assert len(found) == 1, (file, starts)
    return found[0]


async def test_the_migrations_fill_a_live_slot_as_the_runners_do(
    api: Api, database_url: str
) -> None:
    # Given tier changes the runners have applied to both views
    program_id = await tiered_program(api)
    accounts = [await enroll(api.stub, program_id) for _ in range(5)]
    for index, account in enumerate(accounts):
        await earn_points(api, account, 500 * (index + 1))
    await change_tier(api, accounts[0], "platinum")
    await change_tier(api, accounts[4], "")
    await wait_caught_up(database_url, "member_directory")
    await wait_caught_up(database_url, "member_stages")
    changes = sql.SQL(
        "SELECT program_id, member_key, at_transaction::text, at_position, ordinal, change_time,"
        " cause_event_id, cause_event_type, from_tier, to_tier, tier_reason, qualifying_figure"
        " FROM ledger.{} WHERE kind = 'tier' AND program_id = %s ORDER BY 1, 2, 3, 4"
    )
    tiers = sql.SQL(
        "SELECT program_id, member_key, tier FROM ledger.{} WHERE program_id = %s ORDER BY 1, 2"
    )
    with psycopg.connect(database_url) as connection:
        slots: dict[str, str] = dict(
            connection.execute(
                "SELECT projection, slot FROM ledger.projection_checkpoints WHERE live"
            ).fetchall()
        )
        stages = sql.Identifier(f"member_stage_changes_{slots['member_stages']}")
        directory = sql.Identifier(f"member_directory_{slots['member_directory']}")

        def rows() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            return (
                connection.execute(changes.format(stages), [program_id]).fetchall(),
                connection.execute(tiers.format(directory), [program_id]).fetchall(),
            )

        applied = rows()
        # When the slots lose what the runners recorded and the migrations fill them instead
        connection.execute(sql.SQL("DELETE FROM ledger.{} WHERE kind = 'tier'").format(stages))
        connection.execute(sql.SQL("UPDATE ledger.{} SET tier = NULL").format(directory))
        connection.execute(
            _migration_statement(
                "0075_tier_change_feed.sql",
                f"INSERT INTO ledger.member_stage_changes_{slots['member_stages']} ",
            )
        )
        connection.execute(
            _migration_statement(
                "0074_directory_tiers.sql",
                f"UPDATE ledger.member_directory_{slots['member_directory']} ",
            )
        )
        migrated = rows()
        connection.rollback()
    # Then they hold the same rows
    assert len(applied[0]) == 7
    assert {row[2] for row in applied[1] if row[0] == program_id} == {
        "platinum",
        "gold",
        "silver",
        "",
    }
    assert migrated == applied
