"""A year of one program, through the gRPC API with a fixed clock: two hundred members in three
currencies buy with order lines, refund, act (within and over their caps), reach milestones,
redeem rewards, and let points expire. At the end, and at every month's end on the way, every
account's balances equal what tests/e2e/year_reference.py computes from the program's rules
the plain way, without any of the ledger's code."""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, request_id, unique
from tests.e2e import year_reference as ref
from tests.e2e.errors import failure

MEMBERS = 200
DAYS = 365
SEED = 20261201
EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}
AMOUNTS = {"USD": (300, 15_000), "JPY": (300, 20_000), "KWD": (800, 40_000)}
"""Range of one line's amount, in minor units."""
CATEGORIES = ("shoes", "apparel", "beauty")
KINDS = {
    "goods": pb.ORDER_LINE_KIND_GOODS,
    "shipping": pb.ORDER_LINE_KIND_SHIPPING,
    "tax": pb.ORDER_LINE_KIND_TAX,
    "gift_card": pb.ORDER_LINE_KIND_GIFT_CARD,
}
REWARD_ID = "ten-off"
CAP_PERIODS = {
    "week": pb.CAP_PERIOD_WEEK,
    "year": pb.CAP_PERIOD_YEAR,
    "lifetime": pb.CAP_PERIOD_LIFETIME,
}


def money(currency: str, minor: int) -> pb.Money:
    exponent = EXPONENTS[currency]
    units, rest = divmod(minor, 10**exponent)
    return pb.Money(currency_code=currency, units=units, nanos=rest * 10 ** (9 - exponent))


def the_program() -> pb.Program:
    return pb.Program(
        display_name="A year of loyalty",
        earn_rates=[
            pb.EarnRate(currency_code="USD", points=1, per_major_units=1),
            pb.EarnRate(currency_code="JPY", points=1, per_major_units=100),
            pb.EarnRate(currency_code="KWD", points=10, per_major_units=1),
        ],
        return_window_days=ref.RETURN_WINDOW.days,
        points_expiry_days=ref.EXPIRY_DAYS,
        expiry_rounding=pb.EXPIRY_ROUNDING_END_OF_MONTH,
        negative_balance_policy=pb.NEGATIVE_BALANCE_POLICY_WITHIN_BALANCE,
        time_zone=str(ref.ZONE),
        multipliers=[
            pb.EarnMultiplier(
                rule_id=f"{category}_x{factor}", percent=100 * factor, category=category
            )
            for category, factor in ref.CATEGORY_MULTIPLIERS.items()
        ],
        actions=[
            pb.RewardedAction(
                action_id=action_id,
                points=points,
                caps=[pb.ActionCap(period=CAP_PERIODS[period], max_times=times)],
            )
            for action_id, (points, period, times) in ref.ACTIONS.items()
        ],
        milestones=[
            pb.Milestone(
                milestone_id="fifth_order",
                points=ref.MILESTONE_POINTS,
                order_count=ref.MILESTONE_ORDERS,
            )
        ],
        milestone_refund_policy=pb.MILESTONE_REFUND_POLICY_KEEP,
        exclusions=[
            pb.EarnExclusion(rule_id="no_shipping", line_kind=pb.ORDER_LINE_KIND_SHIPPING),
            pb.EarnExclusion(rule_id="no_tax", line_kind=pb.ORDER_LINE_KIND_TAX),
        ],
        minimum_order_amounts=[money(c, m) for c, m in ref.MINIMUM_ORDER.items()],
        points_rounding=pb.POINTS_ROUNDING_DOWN,
        earn_on_gift_cards=False,
        rewards=[
            pb.Reward(
                reward_id=REWARD_ID,
                display_name="10 off",
                points_cost=ref.REWARD_COST,
                amount_off=money("USD", 1_000),
                limit_per_member=ref.REWARD_LIMIT_PER_MEMBER,
                stock=ref.REWARD_STOCK,
            )
        ],
    )


@dataclass
class Member:
    account: str
    currency: str
    reference: ref.Account
    orders: list[str]


def _lines(rng: random.Random, currency: str) -> list[ref.Line]:
    low, high = AMOUNTS[currency]
    lines = [
        ref.Line("goods", rng.choice(CATEGORIES), rng.randint(low, high))
        for _ in range(rng.randint(1, 3))
    ]
    if rng.random() < 0.6:
        lines.append(ref.Line("shipping", "", rng.randint(low, low * 3)))
    if rng.random() < 0.5:
        lines.append(ref.Line("tax", "", rng.randint(low // 3, low)))
    if rng.random() < 0.1:
        lines.append(ref.Line("gift_card", "gift-cards", rng.randint(low, high)))
    if rng.random() < 0.05:  # a small order: under the minimum once shipping is left out
        lines = [ref.Line("goods", "beauty", low // 2), ref.Line("shipping", "", low * 4)]
    return lines


def _order_lines(currency: str, lines: list[ref.Line]) -> list[pb.OrderLine]:
    return [
        pb.OrderLine(
            line_id=f"l{index}",
            sku=f"sku-{line.category or line.kind}-{index}",
            category=line.category,
            quantity=1,
            amount=money(currency, line.amount_minor),
            kind=KINDS[line.kind],
        )
        for index, line in enumerate(lines)
    ]


def _moments(rng: random.Random, day: datetime, count: int) -> Iterator[datetime]:
    """`count` ascending instants spread over the day that starts at `day`."""
    for minute in sorted(rng.sample(range(1, 24 * 60 - 1), count)):
        yield day + timedelta(minutes=minute)


class Year:
    def __init__(self, api: Api, clock: FakeClock, program_id: str) -> None:
        self.api = api
        self.clock = clock
        self.program_id = program_id
        self.members: list[Member] = []
        self.stock_left = ref.REWARD_STOCK
        self.refusals: dict[str, int] = {}
        self.capped = 0

    async def enroll(self, rng: random.Random) -> None:
        for index in range(MEMBERS):
            response = await self.api.stub.EnrollMember(
                pb.EnrollMemberRequest(
                    request_id=request_id(),
                    parent=f"programs/{self.program_id}",
                    member_id=unique(f"member{index}"),
                )
            )
            currency = ("USD", "JPY", "KWD")[index % 3]
            self.members.append(Member(response.account.name, currency, ref.Account(), []))

    async def purchase(self, rng: random.Random, member: Member) -> None:
        now = self.clock()
        order_id = unique("order")
        lines = _lines(rng, member.currency)
        total = sum(line.amount_minor for line in lines)
        response = await self.api.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(),
                account=member.account,
                order_id=order_id,
                amount=money(member.currency, total),
                lines=_order_lines(member.currency, lines),
            )
        )
        milestones_before = member.reference.earned
        expected = member.reference.purchase(now, order_id, member.currency, lines)
        assert response.points == expected, (member.account, order_id, lines)
        reached = member.reference.earned - milestones_before - expected
        assert response.milestone_points == reached
        member.orders.append(order_id)

    async def refund(self, rng: random.Random, member: Member) -> None:
        open_orders = [
            o for o in member.orders
            if member.reference.orders[o].refunded_minor < member.reference.orders[o].amount_minor
        ]  # fmt: skip
        if not open_orders:
            return
        order_id = rng.choice(open_orders)
        order = member.reference.orders[order_id]
        left = order.amount_minor - order.refunded_minor
        amount = left if rng.random() < 0.5 else max(1, left // 2)
        now = self.clock()
        response = await self.api.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(),
                account=member.account,
                order_id=order_id,
                amount=money(member.currency, amount),
            )
        )
        assert response.points_clawed_back == member.reference.refund(now, order_id, amount)

    async def act(self, rng: random.Random, member: Member) -> None:
        now = self.clock()
        action_id = rng.choice(list(ref.ACTIONS))
        response = await self.api.stub.RecordAction(
            pb.RecordActionRequest(
                request_id=request_id(), account=member.account, action_id=action_id
            )
        )
        expected = member.reference.action(now, action_id)
        assert response.points == expected, (member.account, action_id, now)
        if expected == 0:
            assert response.outcome == pb.ACTION_OUTCOME_CAP_REACHED
            self.capped += 1

    async def redeem_reward(self, member: Member) -> None:
        now = self.clock()
        allowed = member.reference.can_redeem_reward(now, self.stock_left)
        call = self.api.stub.RedeemReward(
            pb.RedeemRewardRequest(
                request_id=request_id(), account=member.account, reward_id=REWARD_ID
            )
        )
        if allowed:
            response = await call
            assert response.redeemed_reward.points == ref.REWARD_COST
            member.reference.redeem_reward(now)
            self.stock_left -= 1
            return
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        code, reason = failure(refused.value)[:2]
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        self.refusals[reason] = self.refusals.get(reason, 0) + 1

    async def check(self, members: list[Member]) -> None:
        now = self.clock()
        for member in members:
            response = await self.api.stub.GetAccount(pb.GetAccountRequest(name=member.account))
            balances = response.account.balances
            expected = member.reference
            expected.catch_up(now)
            assert (
                balances.available,
                balances.pending,
                balances.lifetime_earned,
                balances.lifetime_redeemed,
                balances.expired,
            ) == (
                expected.available,
                expected.pending_points,
                expected.earned,
                expected.redeemed,
                expected.expired,
            ), (member.account, now)


@pytest.mark.timeout(900)
async def test_a_year_of_one_program_balances_to_a_plain_reference(
    api: Api, clock: FakeClock
) -> None:
    rng = random.Random(SEED)
    created = await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(), program_id=unique("year"), program=the_program()
        )
    )
    year = Year(api, clock, created.program.name.removeprefix("programs/"))
    await year.enroll(rng)
    start = T0.replace(hour=0, minute=0)
    for day in range(DAYS):
        today = start + timedelta(days=day)
        acting = rng.sample(year.members, rng.randint(4, 14))
        for member, moment in zip(acting, _moments(rng, today, len(acting)), strict=True):
            clock.current = moment
            roll = rng.random()
            if roll < 0.4:
                await year.purchase(rng, member)
            elif roll < 0.5:
                await year.refund(rng, member)
            elif roll < 0.7:
                await year.act(rng, member)
            elif member.reference.available >= ref.REWARD_COST or roll < 0.72:
                await year.redeem_reward(member)
        if (today + timedelta(days=1)).day == 1:  # a month ends: everyone, as of then
            clock.current = today + timedelta(days=1)
            await year.check(year.members)
    clock.current = start + timedelta(days=DAYS + 200)  # long after: what was left expires
    await year.check(year.members)

    totals: dict[str, Any] = {
        "orders": sum(len(m.orders) for m in year.members),
        "refunds": sum(
            1 for m in year.members for o in m.reference.orders.values() if o.refunded_minor
        ),
        "rewards": ref.REWARD_STOCK - year.stock_left,
        "expired": sum(m.reference.expired for m in year.members),
    }
    # The year exercised what it is meant to: every kind of event and refusal happened.
    totals["capped actions"] = year.capped
    assert totals["orders"] > 1_000 and totals["refunds"] > 100, totals
    assert totals["capped actions"] > 50, totals
    assert totals["rewards"] == ref.REWARD_STOCK and totals["expired"] > 0, totals
    assert {"REWARD_OUT_OF_STOCK", "INSUFFICIENT_POINTS"} <= set(year.refusals), year.refusals
