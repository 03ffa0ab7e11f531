"""Tiers through the gRPC API with a fixed clock: a year of a program with three hundred members
whose every tier change equals what tests/e2e/tier_reference.py computes from the README's
rules without any of the ledger's code; the sweep's reviews appended once however often and
however many times at once it runs; bad tier settings refused naming each; the manual change.
"""

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import field_mask_pb2

from ledger import bootstrap
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, request_id, unique
from tests.e2e import tier_reference as ref
from tests.e2e.errors import failure

MEMBERS = 300
DAYS = 365
SEED = 20261213
START = datetime(2026, 1, 1, tzinfo=UTC)
SWEEP_HOUR_UTC = 15
"""Midnight in Tokyo, when reviews fall due."""
SWEEPLESS_WEEKDAY = 2
"""No sweep on Wednesdays: a review due then comes with the member's next command."""


def the_program() -> pb.Program:
    return pb.Program(
        display_name="A year of tiers",
        earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
        negative_balance_policy=pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE,
        time_zone=str(ref.ZONE),
        tiers=pb.TierSettings(
            levels=[
                pb.Tier(
                    name=name,
                    threshold=threshold,
                    earn_multiplier_percent=percent,
                    perks=ref.PERKS[name],
                )
                for name, threshold, percent in ref.TIERS
            ],
            basis=pb.TIER_BASIS_POINTS_EARNED,
            window=pb.TIER_WINDOW_ROLLING_MONTHS,
            window_months=ref.WINDOW_MONTHS,
            grace_days=ref.GRACE.days,
            downgrade=pb.TIER_DOWNGRADE_ONE_TIER,
        ),
    )


def usd(minor: int) -> pb.Money:
    return pb.Money(currency_code="USD", units=minor // 100, nanos=minor % 100 * 10_000_000)


class Year:
    def __init__(self, api: Api, clock: FakeClock, program_id: str) -> None:
        self.api, self.clock, self.program_id = api, clock, program_id
        self.accounts: list[str] = []
        self.members: dict[str, ref.Member] = {}
        self.orders: dict[str, list[str]] = {}

    async def enroll(self) -> None:
        self.clock.current = START
        for index in range(MEMBERS):
            response = await self.api.stub.EnrollMember(
                pb.EnrollMemberRequest(
                    request_id=request_id(),
                    parent=f"programs/{self.program_id}",
                    member_id=unique(f"member{index}"),
                )
            )
            account = response.account.name
            self.accounts.append(account)
            self.members[account] = ref.Member()
            self.orders[account] = []

    async def purchase(self, rng: random.Random, account: str) -> None:
        order_id, amount = unique("order"), rng.randint(500, 60_000)
        response = await self.api.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(), account=account, order_id=order_id, amount=usd(amount)
            )
        )
        expected = self.members[account].purchase(self.clock(), order_id, amount)
        assert response.points == expected, (account, self.clock())
        self.orders[account].append(order_id)

    async def earn(self, rng: random.Random, account: str) -> None:
        points = rng.randint(50, 600)
        await self.api.stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=request_id(), account=account, points=points, reason="review"
            )
        )
        self.members[account].earn(self.clock(), points)

    async def refund(self, rng: random.Random, account: str) -> None:
        member = self.members[account]
        open_orders = [
            order_id
            for order_id in self.orders[account]
            if member.orders[order_id].refunded_minor < member.orders[order_id].amount_minor
        ]
        if not open_orders:
            return
        order_id = rng.choice(open_orders)
        order = member.orders[order_id]
        left = order.amount_minor - order.refunded_minor
        amount = left if rng.random() < 0.5 else max(1, left // 2)
        await self.api.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(), account=account, order_id=order_id, amount=usd(amount)
            )
        )
        member.refund(self.clock(), order_id, amount)

    async def redeem(self, rng: random.Random, account: str) -> None:
        member = self.members[account]
        if member.available < 100:
            return
        points = rng.randint(50, member.available)
        await self.api.stub.RedeemPoints(
            pb.RedeemPointsRequest(request_id=request_id(), account=account, points=points)
        )
        member.redeem(self.clock(), points)

    async def change(self, rng: random.Random, account: str) -> None:
        tier = rng.choice(["", *(name for name, _, _ in ref.TIERS)])
        await self.api.stub.ChangeTier(
            pb.ChangeTierRequest(
                request_id=request_id(), account=account, tier=tier, reason_code="goodwill"
            )
        )
        self.members[account].change(self.clock(), tier)

    async def sweep(self) -> None:
        while await self.api.running.ledger.sweep() > 0:
            pass
        for member in self.members.values():
            member.review_if_due(self.clock())

    async def history(self, account: str) -> list[ref.Change]:
        changes, token = [], ""
        while True:
            page = await self.api.stub.ListLedgerEntries(
                pb.ListLedgerEntriesRequest(
                    parent=account, event_types=["TierChanged"], page_size=1_000, page_token=token
                )
            )
            for entry in page.entries:
                data = json.loads(entry.data_json)
                changes.append(
                    ref.Change(
                        data["from_tier"],
                        data["to_tier"],
                        data["reason"],
                        data["qualifying_figure"],
                    )
                )
            token = page.next_page_token
            if not token:
                return changes


def _moments(rng: random.Random, day: datetime, count: int) -> list[datetime]:
    return [day + timedelta(minutes=m) for m in sorted(rng.sample(range(1, 24 * 60 - 1), count))]


@pytest.mark.timeout(1_200)
async def test_a_year_of_tiers_follows_a_plain_reference_member_by_member(
    api: Api, clock: FakeClock
) -> None:
    rng = random.Random(SEED)
    created = await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(), program_id=unique("tiers"), program=the_program()
        )
    )
    year = Year(api, clock, created.program.name.removeprefix("programs/"))
    await year.enroll()
    for day in range(DAYS):
        today = START + timedelta(days=day)
        sweep_at = today.replace(hour=SWEEP_HOUR_UTC)
        swept = today.weekday() == SWEEPLESS_WEEKDAY
        acting = rng.sample(year.accounts, rng.randint(15, 35))
        for account, moment in zip(acting, _moments(rng, today, len(acting)), strict=True):
            if not swept and moment >= sweep_at and today.weekday() != SWEEPLESS_WEEKDAY:
                clock.current = sweep_at
                await year.sweep()
                swept = True
            clock.current = moment
            roll = rng.random()
            if roll < 0.45:
                await year.purchase(rng, account)
            elif roll < 0.7:
                await year.earn(rng, account)
            elif roll < 0.8:
                await year.refund(rng, account)
            elif roll < 0.97:
                await year.redeem(rng, account)
            elif roll < 0.99:
                await year.change(rng, account)
        if not swept:
            clock.current = sweep_at
            await year.sweep()

    reasons: dict[str, int] = {}
    for account in year.accounts:
        expected = year.members[account]
        assert await year.history(account) == expected.history, account
        for change in expected.history:
            reasons[change.reason] = reasons.get(change.reason, 0) + 1
        shown = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account.tier
        assert (shown.tier, list(shown.perks)) == (expected.tier, ref.PERKS.get(expected.tier, []))
        next_tier, _ = expected.needed_for_next(shown.qualifying_figure)
        assert shown.next_tier == next_tier
    # The year exercised every rule: upgrades, renewals, steps down and manual changes.
    assert {"qualified", "renewed", "term_ended", "manual"} <= set(reasons), reasons
    assert reasons["term_ended"] > 50 and reasons["qualified"] > 200, reasons


# --- the sweep --------------------------------------------------------------------------------


async def _tiered_program(api: Api) -> str:
    created = await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(), program_id=unique("sweep"), program=the_program()
        )
    )
    return created.program.name.removeprefix("programs/")


async def _golden(api: Api, program_id: str, count: int) -> list[str]:
    accounts = []
    for index in range(count):
        enrolled = await api.stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=request_id(),
                parent=f"programs/{program_id}",
                member_id=unique(f"m{index}"),
            )
        )
        await api.stub.EarnPoints(
            pb.EarnPointsRequest(
                request_id=request_id(),
                account=enrolled.account.name,
                points=2_000,
                reason="campaign",
            )
        )
        accounts.append(enrolled.account.name)
    return accounts


async def _reasons(api: Api, account: str) -> list[str]:
    page = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=["TierChanged"])
    )
    return [json.loads(entry.data_json)["reason"] for entry in page.entries]


async def test_a_sweep_run_twice_appends_the_due_reviews_once(api: Api, clock: FakeClock) -> None:
    clock.current = START
    accounts = await _golden(api, await _tiered_program(api), 5)
    clock.current = datetime(2026, 5, 11, 15, tzinfo=UTC)  # gold through April, 10 days' grace

    first = await api.running.ledger.sweep()
    second = await api.running.ledger.sweep()

    assert first > 0 and second == 0
    for account in accounts:
        assert await _reasons(api, account) == ["qualified", "term_ended"]


async def test_two_sweeps_at_once_on_two_processes_append_each_review_once(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    clock.current = START
    accounts = await _golden(api, await _tiered_program(api), 20)
    clock.current = datetime(2026, 5, 11, 15, tzinfo=UTC)

    async with bootstrap.postgres_ledger(database_url, clock) as other:
        await asyncio.gather(api.running.ledger.sweep(), other.sweep())
        again = await asyncio.gather(api.running.ledger.sweep(), other.sweep())

    assert list(again) == [0, 0]
    for account in accounts:
        assert await _reasons(api, account) == ["qualified", "term_ended"]
        shown = (await api.stub.GetAccount(pb.GetAccountRequest(name=account))).account.tier
        assert shown.tier == "silver"


# --- settings and the manual change -----------------------------------------------------------


async def test_tier_settings_that_make_no_sense_are_refused_naming_each_setting(
    api: Api,
) -> None:
    program = the_program()
    program.tiers.levels[1].threshold = 300  # below silver's 400
    program.tiers.levels[2].name = ""
    program.tiers.levels.add(name="gold", threshold=9_000)
    program.tiers.grace_days = 200  # a term of three months is shorter

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.CreateProgram(
            pb.CreateProgramRequest(
                request_id=request_id(), program_id=unique("bad"), program=program
            )
        )

    code, _, fields = failure(refused.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == [
        "program.tiers.levels[1].threshold",
        "program.tiers.levels[2].name",
        "program.tiers.levels[3].name",
        "program.tiers.grace_days",
    ]


async def test_an_update_that_leaves_tiers_without_a_window_is_refused(api: Api) -> None:
    program_id = await _tiered_program(api)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(),
                program=pb.Program(
                    name=f"programs/{program_id}",
                    tiers=pb.TierSettings(levels=[pb.Tier(name="vip", threshold=10)]),
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["tiers"]),
            )
        )

    assert failure(refused.value)[2] == ["program.tiers.window"]


async def test_an_admin_sets_a_tier_and_the_account_lists_its_benefits(
    api: Api, clock: FakeClock
) -> None:
    clock.current = START
    (account,) = await _golden(api, await _tiered_program(api), 1)

    changed = await api.stub.ChangeTier(
        pb.ChangeTierRequest(
            request_id=request_id(), account=account, tier="platinum", reason_code="goodwill"
        ),
        metadata=[("loyalty-actor", "agent:7")],
    )

    tier = changed.account.tier
    assert (tier.tier, list(tier.perks), tier.earn_multiplier_percent) == (
        "platinum",
        ref.PERKS["platinum"],
        200,
    )
    assert (tier.qualifying_figure, tier.next_tier, tier.needed_for_next_tier) == (2_000, "", 0)
    page = await api.stub.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(parent=account, event_types=["TierChanged"])
    )
    manual = json.loads(page.entries[-1].data_json)
    assert (manual["reason"], manual["actor"], manual["from_tier"]) == ("manual", "agent:7", "gold")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.stub.ChangeTier(
            pb.ChangeTierRequest(
                request_id=request_id(), account=account, tier="diamond", reason_code="goodwill"
            )
        )
    assert failure(refused.value)[:3:2] == (grpc.StatusCode.INVALID_ARGUMENT, ["tier"])
