"""A year of referrals through the gRPC API with a fixed clock: sixty members share their codes
with three hundred friends, who enrol (some with a code of nobody, of a forgotten member, their
own fingerprint, or after buying as guests), buy, and refund inside and after the window,
while the program caps credits per month and is switched off for a month. The sweep runs at
each moment a credit falls due. Every referral's status, reason and points, from both sides,
equal what tests/e2e/referral_reference.py computes the plain way."""

import random
from datetime import datetime, timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import T0, Api, FakeClock, request_id, unique
from tests.e2e import referral_reference as ref
from tests.e2e.referral_server import keyed_api

SEED = 20261213
REFERRERS = 60
FRIENDS = 300
DAYS = 365
INFLUENCERS = 5
"""The first referrers, whose codes go round most: they meet the monthly cap."""
OFF_DAYS = range(200, 231)
"""Days the program has referrals switched off."""
FORGET_DAY = 150
STATUS = {
    pb.REFERRAL_STATUS_PENDING: "pending",
    pb.REFERRAL_STATUS_CREDITED: "credited",
    pb.REFERRAL_STATUS_REFUSED: "refused",
    pb.REFERRAL_STATUS_REVERSED: "reversed",
}
REASON = {
    pb.REFERRAL_REASON_UNSPECIFIED: "",
    pb.REFERRAL_REASON_UNKNOWN_CODE: "unknown_code",
    pb.REFERRAL_REASON_REFERRALS_DISABLED: "referrals_disabled",
    pb.REFERRAL_REASON_SELF_REFERRAL: "self_referral",
    pb.REFERRAL_REASON_ALREADY_PURCHASED: "already_purchased",
    pb.REFERRAL_REASON_REFERRER_CAP_REACHED: "referrer_cap_reached",
    pb.REFERRAL_REASON_REFERRER_FORGOTTEN: "referrer_forgotten",
    pb.REFERRAL_REASON_ORDER_REFUNDED: "order_refunded",
}


def the_referrals(*, enabled: bool = True) -> pb.ReferralSettings:
    return pb.ReferralSettings(
        enabled=enabled,
        referrer_points=ref.REFERRER_POINTS,
        friend_points=ref.FRIEND_POINTS,
        minimum_purchases=[pb.Money(currency_code="USD", units=ref.MINIMUM_MINOR // 100)],
        cap_period=pb.CAP_PERIOD_MONTH,
        max_credits_per_period=ref.CAP_PER_MONTH,
        reverse_after_window=True,
    )


class Year:
    def __init__(self, api: Api, clock: FakeClock, program_id: str) -> None:
        self.api = api
        self.clock = clock
        self.program_id = program_id
        self.reference = ref.Program()
        self.codes: dict[str, str] = {}
        self.orders: dict[str, list[tuple[str, int]]] = {}
        """Friend -> (order id, amount left) of each order."""
        self.due_at: list[datetime] = []
        self.friends: list[str] = []

    def account(self, member_id: str) -> str:
        return f"programs/{self.program_id}/accounts/{member_id}"

    async def at(self, moment: datetime) -> None:
        """Moves the clock to `moment`, running the sweep first at each instant a credit
        fell due on the way (so each is decided at its own instant, as the reference does)."""
        for due in sorted(d for d in self.due_at if d <= moment):
            self.clock.current = due
            await self.api.running.ledger.sweep()
            for referral in self.reference.due(due):
                self.reference.credit(referral, due)
            self.due_at.remove(due)
        self.clock.current = moment

    async def enrol(self, member_id: str, code: str = "", **fields: object) -> None:
        response = await self.api.stub.EnrollMember(
            pb.EnrollMemberRequest(
                request_id=request_id(),
                parent=f"programs/{self.program_id}",
                member_id=member_id,
                referral_code=code,
                **fields,  # type: ignore[arg-type]
            )
        )
        self.codes[member_id] = response.account.referral_code

    async def purchase(self, rng: random.Random, friend: str) -> None:
        order_id = unique("o")
        amount = rng.randint(1_000, 12_000)
        await self.api.stub.RecordPurchase(
            pb.RecordPurchaseRequest(
                request_id=request_id(),
                account=self.account(friend),
                order_id=order_id,
                amount=pb.Money(
                    currency_code="USD", units=amount // 100, nanos=amount % 100 * 10**7
                ),
            )
        )
        self.orders.setdefault(friend, []).append((order_id, amount))
        before = self.reference.referrals[friend].release_at
        self.reference.purchase(friend, order_id, amount, self.clock())
        after = self.reference.referrals[friend].release_at
        if after is not None and after != before:
            self.due_at.append(after)

    async def refund(self, rng: random.Random, friend: str) -> None:
        orders = [(index, o) for index, o in enumerate(self.orders.get(friend, [])) if o[1] > 0]
        if not orders:
            return
        index, (order_id, left) = rng.choice(orders)
        amount = left if rng.random() < 0.6 else max(1, left // 2)
        await self.api.stub.RefundPurchase(
            pb.RefundPurchaseRequest(
                request_id=request_id(),
                account=self.account(friend),
                order_id=order_id,
                amount=pb.Money(
                    currency_code="USD", units=amount // 100, nanos=amount % 100 * 10**7
                ),
            )
        )
        self.orders[friend][index] = (order_id, left - amount)
        self.reference.refund(friend, order_id, amount)

    async def switch(self, *, enabled: bool) -> None:
        await self.api.stub.UpdateProgram(
            pb.UpdateProgramRequest(
                request_id=request_id(),
                program=pb.Program(
                    name=f"programs/{self.program_id}", referrals=the_referrals(enabled=enabled)
                ),
                update_mask=FieldMask(paths=["referrals.enabled"]),
            )
        )
        self.reference.enabled = enabled

    async def listed(self, member_id: str) -> list[pb.Referral]:
        found: list[pb.Referral] = []
        token = ""
        while True:
            page = await self.api.stub.ListReferrals(
                pb.ListReferralsRequest(
                    parent=self.account(member_id), page_size=50, page_token=token
                )
            )
            found += page.referrals
            token = page.next_page_token
            if not token:
                return found

    async def check(self) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        by_referrer: dict[str, list[ref.Referral]] = {}
        for friend in self.friends:
            expected = self.reference.referrals[friend]
            (as_friend,) = await self.listed(friend)
            seen = (
                STATUS[as_friend.status],
                REASON[as_friend.reason],
                as_friend.points,
                as_friend.other_member_id,
            )
            other = "" if expected.referrer in self.reference.forgotten else expected.referrer
            assert seen == (expected.status, expected.reason, expected.friend_points, other), (
                friend,
                expected,
            )
            key = f"{expected.status}:{expected.reason}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if expected.referrer and expected.referrer not in self.reference.forgotten:
                by_referrer.setdefault(expected.referrer, []).append(expected)
        for referrer, referrals in by_referrer.items():
            listed = await self.listed(referrer)
            assert [
                (r.other_member_id, STATUS[r.status], REASON[r.reason], r.points) for r in listed
            ] == [(e.friend, e.status, e.reason, e.referrer_points) for e in referrals], referrer
        return outcomes


@pytest.mark.timeout(900)
async def test_a_year_of_referrals_equals_a_plain_reference(
    database_url: str, clock: FakeClock
) -> None:
    async with keyed_api(database_url, clock) as api:
        await _a_year(api, clock)


async def _a_year(api: Api, clock: FakeClock) -> None:
    rng = random.Random(SEED)
    program_id = unique("refyear")
    await api.stub.CreateProgram(
        pb.CreateProgramRequest(
            request_id=request_id(),
            program_id=program_id,
            program=pb.Program(
                earn_rates=[pb.EarnRate(currency_code="USD", points=1, per_major_units=1)],
                return_window_days=ref.RETURN_WINDOW.days,
                time_zone=str(ref.ZONE),
                referrals=the_referrals(),
            ),
        )
    )
    year = Year(api, clock, program_id)
    referrers = [f"ref{index}-{rng.randrange(10**6)}" for index in range(REFERRERS)]
    for referrer in referrers:
        fingerprint = f"{referrer}@example.com"
        await year.enrol(referrer, referral_fingerprint=fingerprint)
        year.reference.enrol(referrer, None, fingerprint)
        del year.reference.referrals[referrer]  # enrolled without a code: no referral
    forgotten = {referrers[0], *referrers[-2:]}  # one influencer among them
    start = T0.replace(hour=0, minute=0)
    enrolments = sorted(rng.sample(range(DAYS - 30), FRIENDS // 2) * 2)
    for day in range(DAYS):
        today = start + timedelta(days=day)
        if day == OFF_DAYS.start:
            await year.at(today)
            await year.switch(enabled=False)
        if day == OFF_DAYS.stop:
            await year.at(today)
            await year.switch(enabled=True)
        if day == FORGET_DAY:
            await year.at(today)
            for member in forgotten:
                await api.stub.ForgetMember(pb.ForgetMemberRequest(name=year.account(member)))
                year.reference.forget(member)
        joining = enrolments.count(day)
        buying = rng.sample(year.friends, min(len(year.friends), rng.randint(2, 6)))
        moments = sorted(rng.sample(range(60, 24 * 60 - 1), joining + len(buying)))
        for slot, minute in enumerate(moments):
            await year.at(today + timedelta(minutes=minute))
            if slot < joining:
                await enrol_friend(year, rng, referrers)
            elif rng.random() < 0.7:
                await year.purchase(rng, buying[slot - joining])
            else:
                await year.refund(rng, buying[slot - joining])
    await year.at(start + timedelta(days=DAYS + 30))
    outcomes = await year.check()
    print("outcomes:", sorted(outcomes.items()))
    # The year exercised what it is meant to: every outcome happened.
    for outcome in (
        "credited:",
        "refused:unknown_code",
        "refused:self_referral",
        "refused:already_purchased",
        "refused:referrer_cap_reached",
        "refused:referrer_forgotten",
        "refused:referrals_disabled",
        "reversed:order_refunded",
    ):
        assert outcomes.get(outcome, 0) > 0, (outcome, outcomes)
    # The sweep catches up on what else fell due (pending points of other orders); then,
    # however often it runs, nothing is left for it
    await api.running.ledger.sweep()
    assert await api.running.ledger.sweep() == 0
    assert await year.check() == outcomes


async def enrol_friend(year: Year, rng: random.Random, referrers: list[str]) -> None:
    friend = unique("friend")
    roll = rng.random()
    referrer: str | None = (
        rng.choice(referrers[:INFLUENCERS]) if rng.random() < 0.5 else rng.choice(referrers)
    )
    fields: dict[str, object] = {}
    fingerprint = f"{friend}@example.com"
    if roll < 0.05:
        referrer = None
        code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(10))
    else:
        assert referrer is not None
        code = year.codes[referrer]
        if roll < 0.1:
            fingerprint = f"{referrer}@example.com"
        elif roll < 0.15:
            fields["purchased_before"] = True
    await year.enrol(friend, code, referral_fingerprint=fingerprint, **fields)
    year.reference.enrol(
        friend, referrer, fingerprint, purchased_before=bool(fields.get("purchased_before"))
    )
    year.friends.append(friend)
