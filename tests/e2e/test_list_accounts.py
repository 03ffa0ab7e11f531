"""ListAccounts through the real channel: filters on balances and times, paging through every
account once, tokens bound to their filter, bad filters and page sizes refused by field.

The directory is eventually consistent, so each test waits for its runner (the server's own)
to catch up before reading, as a caller that needs fresh figures would use GetAccount."""

from datetime import UTC, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, create_program, earn, request_id
from tests.e2e.errors import failure
from tests.projections.helpers import wait_caught_up

DAY = timedelta(days=1)


async def enroll_as(api: Api, program_id: str, member_id: str) -> str:
    response = await api.stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(), parent=f"programs/{program_id}", member_id=member_id
        )
    )
    return response.account.name


async def reserve(api: Api, account: str, points: int, ttl_seconds: int) -> None:
    await api.stub.ReservePoints(
        pb.ReservePointsRequest(
            request_id=request_id(),
            account=account,
            reservation_id="basket-1",
            points=points,
            ttl_seconds=ttl_seconds,
        )
    )


async def listed(api: Api, program_id: str, filter_text: str = "", page_size: int = 0) -> list[str]:
    """Member ids of every account the filter lets through, following every page."""
    members: list[str] = []
    token = ""
    for _ in range(100):
        page = await api.stub.ListAccounts(
            pb.ListAccountsRequest(
                parent=f"programs/{program_id}",
                filter=filter_text,
                page_size=page_size,
                page_token=token,
            )
        )
        members += [account.name.rsplit("/", 1)[1] for account in page.accounts]
        token = page.next_page_token
        if not token:
            return members
    raise AssertionError("too many pages")


@pytest.fixture
async def four_members(api: Api, clock: FakeClock, database_url: str) -> str:
    """alice (enrolled T0, 100 points an hour later), bob (T0 + 1 day, 500), carol
    (T0 + 2 days, 50 with 20 held), dave (T0 + 3 days, nothing)."""
    program_id = await create_program(api.stub)
    alice = await enroll_as(api, program_id, "alice")
    clock.advance(hours=1)
    await earn(api.stub, alice, 100)
    clock.current = T0 + DAY
    await earn(api.stub, await enroll_as(api, program_id, "bob"), 500)
    clock.current = T0 + 2 * DAY
    carol = await enroll_as(api, program_id, "carol")
    await earn(api.stub, carol, 50)
    clock.advance(hours=1)
    await reserve(api, carol, 20, ttl_seconds=60)
    clock.current = T0 + 3 * DAY
    await enroll_as(api, program_id, "dave")
    await wait_caught_up(database_url, "member_directory")
    return program_id


async def test_list_accounts_answers_every_account_with_its_directory_figures(
    api: Api, four_members: str
) -> None:
    page = await api.stub.ListAccounts(pb.ListAccountsRequest(parent=f"programs/{four_members}"))
    assert [a.name.rsplit("/", 1)[1] for a in page.accounts] == ["alice", "bob", "carol", "dave"]
    assert not page.next_page_token
    carol = page.accounts[2]
    fresh = (await api.stub.GetAccount(pb.GetAccountRequest(name=carol.name))).account
    logged = await api.stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(parent=carol.name))
    # The directory holds the balances after the member's last event; GetAccount reads as of
    # now, so it shows her hold, lapsed since, as released before the sweep records it.
    assert carol.balances == logged.entries[-1].balances_after
    assert (carol.balances.available, carol.balances.held) == (30, 20)
    assert (fresh.balances.available, fresh.balances.held) == (50, 0)
    assert carol.version == fresh.version
    assert carol.enroll_time == fresh.enroll_time
    assert carol.referral_code == fresh.referral_code
    assert carol.last_activity_time.ToDatetime(tzinfo=UTC) == T0 + 2 * DAY + timedelta(hours=1)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("available >= 100", ["alice", "bob"]),
        ("available > 100 AND available < 1000", ["bob"]),
        ("available=30", ["carol"]),
        ("held > 0", ["carol"]),
        ("lifetime_earned <= 50 AND version = 1", ["dave"]),
        ('enroll_time >= "2026-03-02T12:00:00Z"', ["bob", "carol", "dave"]),
        ('enroll_time < "2026-03-02T12:00:00Z"', ["alice"]),
        # The same instant written with an offset: bob enrolled exactly then.
        ('enroll_time > "2026-03-02T13:00:00+01:00"', ["carol", "dave"]),
        # Finer than the stored microseconds, and still exact.
        ('enroll_time > "2026-03-02T12:00:00.0000001Z"', ["carol", "dave"]),
        ('enroll_time <= "2026-03-02T12:00:00.0000001Z"', ["alice", "bob"]),
        ('enroll_time = "2026-03-02T12:00:00.0000001Z"', []),
        (
            'last_activity_time >= "2026-03-01T13:00:00Z"'
            ' AND last_activity_time < "2026-03-04T00:00:00Z"',
            ["alice", "bob", "carol"],
        ),
        ("available >= 100 AND available < 100", []),
    ],
)
async def test_list_accounts_filters_on_balances_and_times(
    api: Api, four_members: str, filter_text: str, expected: list[str]
) -> None:
    assert await listed(api, four_members, filter_text) == expected


async def test_housekeeping_by_the_sweep_is_not_a_members_activity(
    api: Api, four_members: str, clock: FakeClock, database_url: str
) -> None:
    (before,) = await _accounts(api, four_members, "held > 0")
    clock.advance(minutes=5)  # carol's hold lapsed
    assert await api.running.ledger.sweep() > 0
    await wait_caught_up(database_url, "member_directory")
    (after,) = await _accounts(api, four_members, "available = 50")
    assert after.name == before.name
    assert after.version > before.version
    assert after.balances.held == 0
    assert after.last_activity_time == before.last_activity_time


async def _accounts(api: Api, program_id: str, filter_text: str) -> list[pb.Account]:
    page = await api.stub.ListAccounts(
        pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=filter_text)
    )
    return list(page.accounts)


@pytest.mark.parametrize("filter_text", ["", "available >= 0"])
async def test_paging_visits_every_account_exactly_once_in_order(
    api: Api, four_members: str, filter_text: str
) -> None:
    one_by_one = await listed(api, four_members, filter_text, page_size=1)
    assert one_by_one == ["alice", "bob", "carol", "dave"]
    assert await listed(api, four_members, filter_text, page_size=3) == one_by_one


async def test_a_page_token_is_refused_with_another_filter_or_parent(
    api: Api, four_members: str
) -> None:
    parent = f"programs/{four_members}"
    first = await api.stub.ListAccounts(
        pb.ListAccountsRequest(parent=parent, filter="available >= 0", page_size=1)
    )
    assert first.next_page_token
    other_program = await create_program(api.stub)
    for request in (
        pb.ListAccountsRequest(parent=parent, filter="held >= 0", page_token=first.next_page_token),
        pb.ListAccountsRequest(parent=parent, page_token=first.next_page_token),
        pb.ListAccountsRequest(
            parent=f"programs/{other_program}",
            filter="available >= 0",
            page_token=first.next_page_token,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.stub.ListAccounts(request)
        assert failure(refused.value) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_TOKEN_MISMATCH",
            ["page_token"],
        )
    # With its own filter the token still works, whatever the page size (AIP-158).
    second = await api.stub.ListAccounts(
        pb.ListAccountsRequest(
            parent=parent, filter="available >= 0", page_size=10, page_token=first.next_page_token
        )
    )
    assert [a.name.rsplit("/", 1)[1] for a in second.accounts] == ["bob", "carol", "dave"]


@pytest.mark.parametrize("token", ["x", "v12", "eyJ2IjoxfQ", "a" * 600, "é"])
async def test_a_page_token_the_service_did_not_return_is_refused(api: Api, token: str) -> None:
    program_id = await create_program(api.stub)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", page_token=token)
        )
    code, _, fields = failure(refused.value)
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])


@pytest.mark.parametrize(
    "filter_text",
    [
        "balance > 5",
        "available >> 5",
        "available >",
        "available > five",
        'available > "5"',
        "available > 5 OR held > 1",
        "available > 5 and held > 1",
        "NOT available > 5",
        "available != 5",
        "available:5",
        "(available > 5)",
        "available > 5 AND",
        "AND available > 5",
        "available > 5 held > 1",
        "available > 99999999999999999999",
        "enroll_time > 2026-01-01",
        'enroll_time > "2026-01-01"',
        'enroll_time > "yesterday"',
        'enroll_time > "2026-02-30T00:00:00Z"',
        'enroll_time > "2026-01-01T00:00:00"',
        "enroll_time > 5",
        " AND ".join(["available > 1"] * 21),
        "available > " + "1" * 1_000,
    ],
)
async def test_a_bad_filter_is_refused_naming_the_filter_field(api: Api, filter_text: str) -> None:
    program_id = await create_program(api.stub)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(
            pb.ListAccountsRequest(parent=f"programs/{program_id}", filter=filter_text)
        )
    assert failure(refused.value) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FILTER",
        ["filter"],
    )


async def test_page_size_has_a_default_a_maximum_and_no_negative(
    api: Api, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    when = Timestamp()
    when.FromDatetime(T0 - DAY)
    for first, count in ((0, 1_000), (1_000, 5)):
        await api.stub.ImportHistory(
            pb.ImportHistoryRequest(
                request_id=request_id(),
                parent=f"programs/{program_id}",
                events=[
                    pb.HistoricalEvent(
                        account=f"programs/{program_id}/accounts/m{index:04d}",
                        points_delta=1,
                        occur_time=when,
                        external_id=f"e{index}",
                        kind="purchase",
                    )
                    for index in range(first, first + count)
                ],
            )
        )
    await wait_caught_up(database_url, "member_directory")
    parent = f"programs/{program_id}"

    default = await api.stub.ListAccounts(pb.ListAccountsRequest(parent=parent))
    assert len(default.accounts) == 100 and default.next_page_token
    most = await api.stub.ListAccounts(pb.ListAccountsRequest(parent=parent, page_size=5_000))
    assert len(most.accounts) == 1_000 and most.next_page_token
    rest = await api.stub.ListAccounts(
        pb.ListAccountsRequest(parent=parent, page_size=5_000, page_token=most.next_page_token)
    )
    assert len(rest.accounts) == 5 and not rest.next_page_token

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ListAccounts(pb.ListAccountsRequest(parent=parent, page_size=-1))
    code, _, fields = failure(refused.value)
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_size"])


async def test_list_accounts_of_an_unknown_or_misspelled_program_is_refused(api: Api) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.stub.ListAccounts(pb.ListAccountsRequest(parent="programs/no-such-program"))
    assert failure(missing.value)[:2] == (grpc.StatusCode.NOT_FOUND, "PROGRAM_NOT_FOUND")
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await api.stub.ListAccounts(pb.ListAccountsRequest(parent="shops/x"))
    code, _, fields = failure(bad.value)
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["parent"])
