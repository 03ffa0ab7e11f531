"""Referrals through the gRPC API, a real server and PostgreSQL, with a clock the test moves:
enrolling with a code (typed loosely, unknown, malformed, of a forgotten member, a self-
referral by fingerprint), the credit of both accounts once the window has passed, the cap
under 50 friends at once with the sweep on two processes, and settings refused by name."""

import asyncio

import grpc
import pytest

from ledger import bootstrap
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, request_id, unique
from tests.e2e.errors import failure
from tests.e2e.referral_server import keyed_api

WINDOW_DAYS = 14
REFERRER_POINTS = 500
FRIEND_POINTS = 200


def referring(**changes: object) -> pb.ReferralSettings:
    settings = pb.ReferralSettings(
        enabled=True,
        referrer_points=REFERRER_POINTS,
        friend_points=FRIEND_POINTS,
        minimum_purchases=[pb.Money(currency_code="USD", units=50)],
        cap_period=pb.CAP_PERIOD_MONTH,
        max_credits_per_period=10,
    )
    for name, value in changes.items():
        setattr(settings, name, value)
    return settings


async def program_with(api: Api, referrals: pb.ReferralSettings) -> str:
    program_id = unique("refs")
    await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
                return_window_days=WINDOW_DAYS,
                referrals=referrals,
            ),
        )
    )
    return program_id


async def enrol(api: Api, program_id: str, code: str = "", **fields: object) -> pb.Account:
    response = await api.stub.EnrollMember(
        pb.EnrollMemberRequest(
            request_id=request_id(),
            parent=f"programs/{program_id}",
            member_id=unique("m"),
            referral_code=code,
            **fields,  # type: ignore[arg-type]
        )
    )
    return response.account


async def buy(api: Api, account: str, dollars: int) -> None:
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=account,
            order_id=unique("o"),
            amount=pb.Money(currency_code="USD", units=dollars),
        )
    )


async def referrals_of(api: Api, account: str) -> list[pb.Referral]:
    listed: list[pb.Referral] = []
    token = ""
    while True:
        page = await api.stub.ListReferrals(
            pb.ListReferralsRequest(parent=account, page_size=7, page_token=token)
        )
        listed += page.referrals
        token = page.next_page_token
        if not token:
            return listed


def member_of(account: str) -> str:
    return account.rsplit("/", 1)[1]


async def available(api: Api, account: str) -> int:
    response = await api.stub.GetAccount(pb.GetAccountRequest(name=account))
    return response.account.balances.available


async def test_a_friend_enrolled_with_a_typed_code_credits_both_once_the_window_passed(
    api: Api, clock: FakeClock
) -> None:
    program_id = await program_with(api, referring())
    referrer = await enrol(api, program_id)
    code = referrer.referral_code
    typed = f"{code[:5].lower()}-{code[5:]}"
    friend = await enrol(api, program_id, typed)
    (pending,) = await referrals_of(api, friend.name)
    assert (pending.role, pending.status) == (pb.REFERRAL_ROLE_FRIEND, pb.REFERRAL_STATUS_PENDING)
    assert pending.other_member_id == member_of(referrer.name)

    await buy(api, friend.name, 60)
    clock.advance(days=WINDOW_DAYS, seconds=1)
    assert await api.running.ledger.sweep() > 0

    (as_friend,) = await referrals_of(api, friend.name)
    (as_referrer,) = await referrals_of(api, referrer.name)
    assert (as_friend.status, as_friend.points) == (pb.REFERRAL_STATUS_CREDITED, FRIEND_POINTS)
    assert (as_referrer.status, as_referrer.points) == (
        pb.REFERRAL_STATUS_CREDITED,
        REFERRER_POINTS,
    )
    assert as_referrer.other_member_id == member_of(friend.name)
    assert await available(api, referrer.name) == REFERRER_POINTS
    assert await available(api, friend.name) == 60 + FRIEND_POINTS
    entries = await api.stub.ListLedgerEntries(pb.ListLedgerEntriesRequest(parent=referrer.name))
    assert [entry.event_type for entry in entries.entries][-1] == "ReferrerCredited"
    # A second sweep finds nothing left to do
    assert await api.running.ledger.sweep() == 0


async def test_an_unknown_code_enrols_the_member_with_a_refused_referral(api: Api) -> None:
    program_id = await program_with(api, referring())
    friend = await enrol(api, program_id, "AAAAAAAAAA")
    (refused,) = await referrals_of(api, friend.name)
    assert (refused.status, refused.reason) == (
        pb.REFERRAL_STATUS_REFUSED,
        pb.REFERRAL_REASON_UNKNOWN_CODE,
    )
    assert refused.other_member_id == ""


async def test_a_malformed_code_is_refused_naming_the_field_and_enrols_nobody(api: Api) -> None:
    program_id = await program_with(api, referring())
    member_id = unique("m")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=request_id(),
                parent=f"programs/{program_id}",
                member_id=member_id,
                referral_code="not a code!",
            )
        )
    code, _, fields = failure(refused.value)
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["referral_code"])
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.stub.GetAccount(
            pb.GetAccountRequest(name=f"programs/{program_id}/accounts/{member_id}")
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_code_of_a_forgotten_member_names_nobody(api: Api) -> None:
    program_id = await program_with(api, referring())
    referrer = await enrol(api, program_id)
    await api.stub.ForgetMember(pb.ForgetMemberRequest(name=referrer.name))
    friend = await enrol(api, program_id, referrer.referral_code)
    (refused,) = await referrals_of(api, friend.name)
    assert refused.reason == pb.REFERRAL_REASON_UNKNOWN_CODE


async def test_a_friend_with_the_referrers_fingerprint_is_a_self_referral(
    database_url: str, clock: FakeClock
) -> None:
    async with keyed_api(database_url, clock) as api:
        await _self_referral(api)


async def _self_referral(api: Api) -> None:
    program_id = await program_with(api, referring())
    referrer = await enrol(api, program_id, referral_fingerprint="Ann@example.com")
    friend = await enrol(
        api, program_id, referrer.referral_code, referral_fingerprint=" ann@example.com"
    )
    other = await enrol(
        api, program_id, referrer.referral_code, referral_fingerprint="bob@example.com"
    )
    refused, pending = await referrals_of(api, referrer.name)
    assert (refused.other_member_id, refused.reason) == (
        member_of(friend.name),
        pb.REFERRAL_REASON_SELF_REFERRAL,
    )
    assert (pending.other_member_id, pending.status) == (
        member_of(other.name),
        pb.REFERRAL_STATUS_PENDING,
    )


async def test_a_fingerprint_without_a_server_key_is_refused(api: Api) -> None:
    program_id = await program_with(api, referring())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await enrol(api, program_id, referral_fingerprint="ann@example.com")
    assert failure(refused.value)[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REFERRAL_FINGERPRINT_KEY_NOT_SET",
    )


async def test_a_refund_inside_the_window_reverses_the_referral_and_credits_nobody(
    api: Api, clock: FakeClock
) -> None:
    program_id = await program_with(api, referring())
    referrer = await enrol(api, program_id)
    friend = await enrol(api, program_id, referrer.referral_code)
    order_id = unique("o")
    await api.stub.RecordPurchase(
        pb.RecordPurchaseRequest(
            request_id=request_id(),
            account=friend.name,
            order_id=order_id,
            amount=pb.Money(currency_code="USD", units=80),
        )
    )
    clock.advance(days=2)
    await api.stub.RefundPurchase(
        pb.RefundPurchaseRequest(
            request_id=request_id(),
            account=friend.name,
            order_id=order_id,
            amount=pb.Money(currency_code="USD", units=80),
        )
    )
    clock.advance(days=WINDOW_DAYS)
    await api.running.ledger.sweep()
    (as_referrer,) = await referrals_of(api, referrer.name)
    assert (as_referrer.status, as_referrer.reason) == (
        pb.REFERRAL_STATUS_REVERSED,
        pb.REFERRAL_REASON_ORDER_REFUNDED,
    )
    assert await available(api, referrer.name) == 0


async def test_bad_referral_settings_are_refused_naming_each(api: Api) -> None:
    bad = pb.ReferralSettings(
        enabled=True,
        referrer_points=0,
        friend_points=-5,
        minimum_purchases=[
            pb.Money(currency_code="XXX", units=1),
            pb.Money(currency_code="EUR", units=5),
        ],
        max_credits_per_period=-1,
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await program_with(api, bad)
    code, _, fields = failure(refused.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [
        "program.referrals.referrer_points",
        "program.referrals.friend_points",
        "program.referrals.max_credits_per_period",
        "program.referrals.minimum_purchases[0].currency_code",
        "program.referrals.minimum_purchases[1].currency_code",
    ]


FRIENDS = 50
CAP = 10


@pytest.mark.timeout(300)
async def test_fifty_friends_at_once_never_take_the_referrer_past_the_cap(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await program_with(api, referring(max_credits_per_period=CAP))
    referrer = await enrol(api, program_id)
    friends = [await enrol(api, program_id, referrer.referral_code) for _ in range(FRIENDS)]
    # Every friend's qualifying purchase at once
    await asyncio.gather(*(buy(api, friend.name, 75) for friend in friends))
    clock.advance(days=WINDOW_DAYS, seconds=1)
    # The sweep on two processes at once: the server's and another ledger on the same log
    async with bootstrap.postgres_ledger(database_url, clock, shards=2) as other:
        first = await asyncio.gather(api.running.ledger.sweep(), other.sweep())
        assert sum(first) > 0
        again = await asyncio.gather(api.running.ledger.sweep(), other.sweep())
    assert list(again) == [0, 0]

    listed = await referrals_of(api, referrer.name)
    assert len(listed) == FRIENDS
    # One page larger than served is served as the largest (AIP-158): all fifty at once.
    whole = await api.stub.ListReferrals(
        pb.ListReferralsRequest(parent=referrer.name, page_size=2**31 - 1)
    )
    assert list(whole.referrals) == listed
    assert whole.next_page_token == ""
    statuses = [(r.status, r.reason) for r in listed]
    assert statuses.count((pb.REFERRAL_STATUS_CREDITED, pb.REFERRAL_REASON_UNSPECIFIED)) == CAP
    assert statuses.count(
        (pb.REFERRAL_STATUS_REFUSED, pb.REFERRAL_REASON_REFERRER_CAP_REACHED)
    ) == (FRIENDS - CAP)
    assert await available(api, referrer.name) == CAP * REFERRER_POINTS
    credited = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(
            parent=referrer.name, event_types=["ReferrerCredited"], page_size=100
        )
    )
    assert len(credited.entries) == CAP
    # Each friend's own credit, paid once, only to the friends whose referral was credited
    paid = [await available(api, friend.name) for friend in friends]
    assert sorted(paid) == sorted([75] * (FRIENDS - CAP) + [75 + FRIEND_POINTS] * CAP)
