"""GetProgramStatistics' survey, referral, tier and stage figures through the real channel, on
the test's fixed clock: each equals what the test computes from what it sent (the scores, the
enrolments with a code, the purchases and tier changes), never from the service's views."""

from datetime import UTC, datetime
from fractions import Fraction

from ledger.domain.stage_settings import DEFAULT_LAPSED_AFTER_DAYS
from loyalty.v1 import ledger_pb2 as pb
from tests.conftest import Api, FakeClock, create_program, enroll, request_id
from tests.e2e.test_referrals_api import WINDOW_DAYS, buy, enrol, program_with, referring
from tests.projections.helpers import wait_caught_up

MAY = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
ANSWERS: list[tuple[int | None, int | None, int | None]] = [
    # (nps, ces, csat), None where the member left it out.
    (10, 7, 5),
    (9, None, 4),
    (8, 5, None),
    (7, 6, 3),
    (6, 2, 1),
    (0, 1, 2),
    (3, None, None),
    (None, 4, 5),
    (10, 3, None),
]


async def statistics(api: Api, program_id: str, day: str) -> pb.ProgramStatistics:
    response = await api.stub.GetProgramStatistics(
        pb.GetProgramStatisticsRequest(
            program=f"programs/{program_id}", period=pb.STATISTICS_PERIOD_MONTH, date=day
        )
    )
    return response.statistics


async def answer(api: Api, account: str, scores: tuple[int | None, int | None, int | None]) -> None:
    nps, ces, csat = scores
    await api.stub.RecordFeedback(
        pb.RecordFeedbackRequest(
            request_id=request_id(),
            account=account,
            nps_score=nps,
            ces_score=ces,
            csat_score=csat,
            channel="email",
        )
    )


def mean(scores: list[int]) -> float:
    return float(Fraction(sum(scores), len(scores)))


async def test_nps_ces_and_csat_of_a_month_are_those_of_the_answers_recorded_in_it(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await create_program(api.stub)
    clock.current = MAY
    for scores in ANSWERS:
        await answer(api, await enroll(api.stub, program_id), scores)
    # A June answer counts in June only.
    clock.current = JUNE
    await answer(api, await enroll(api.stub, program_id), (0, 1, 1))
    await wait_caught_up(database_url, "program_statistics")

    may = (await statistics(api, program_id, "2026-05-15")).feedback
    nps = [s[0] for s in ANSWERS if s[0] is not None]
    promoters = sum(score >= 9 for score in nps)
    detractors = sum(score <= 6 for score in nps)
    assert (may.promoters, may.passives, may.detractors) == (
        promoters,
        len(nps) - promoters - detractors,
        detractors,
    )
    answered = len(nps)
    assert may.nps == float(
        Fraction(100 * promoters, answered) - Fraction(100 * detractors, answered)
    )
    ces = [s[1] for s in ANSWERS if s[1] is not None]
    csat = [s[2] for s in ANSWERS if s[2] is not None]
    assert (may.ces_answers, may.ces_average) == (len(ces), mean(ces))
    assert (may.csat_answers, may.csat_average) == (len(csat), mean(csat))

    june = (await statistics(api, program_id, "2026-06-30")).feedback
    assert (june.detractors, june.nps, june.ces_average, june.csat_average) == (1, -100.0, 1, 1)
    april = (await statistics(api, program_id, "2026-04-30")).feedback
    assert april == pb.FeedbackStatistics()


async def test_referral_conversion_is_the_credits_of_the_month_over_the_referrals_started_in_it(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await program_with(api, referring())
    clock.current = MAY
    referrer = await enrol(api, program_id)
    friends = [await enrol(api, program_id, referrer.referral_code) for _ in range(3)]
    await enrol(api, program_id)  # no code: not a referral
    for friend in friends[:2]:
        await buy(api, friend.name, 60)
    clock.advance(days=WINDOW_DAYS, seconds=1)  # still May: both credited in May
    assert await api.running.ledger.sweep() > 0
    # The third friend buys in June: credited in June, started in May.
    clock.current = JUNE
    await buy(api, friends[2].name, 60)
    clock.advance(days=WINDOW_DAYS, seconds=1)
    assert await api.running.ledger.sweep() > 0
    await wait_caught_up(database_url, "program_statistics")

    may = (await statistics(api, program_id, "2026-05-01")).referrals
    assert (may.started, may.credited, may.conversion) == (3, 2, 2 / 3)
    june = (await statistics(api, program_id, "2026-06-01")).referrals
    assert (june.started, june.credited, june.conversion) == (0, 1, 0.0)


TIERS = pb.TierSettings(
    levels=[pb.Tier(name="silver", threshold=100), pb.Tier(name="gold", threshold=500)],
    basis=pb.TIER_BASIS_POINTS_EARNED,
    window=pb.TIER_WINDOW_LIFETIME,
)


def tier_reached(dollars: int) -> str:
    """The tier a member's lifetime points reach at 1 point per USD (the test's own rule)."""
    return "gold" if dollars >= 500 else "silver" if dollars >= 100 else ""


async def test_members_per_tier_and_per_stage_are_the_members_holding_each_now(
    api: Api, clock: FakeClock, database_url: str
) -> None:
    program_id = await create_program(api.stub, tiers=TIERS)
    clock.current = MAY
    spends = [0, 0, 150, 150, 220, 600, 600, 80]
    accounts = [await enroll(api.stub, program_id) for _ in spends]
    for account, dollars in zip(accounts, spends, strict=True):
        if dollars:
            await api.stub.RecordPurchase(
                pb.RecordPurchaseRequest(
                    request_id=request_id(),
                    account=account,
                    order_id=request_id(),
                    amount=pb.Money(currency_code="USD", units=dollars),
                )
            )
    tiers = {
        account: tier_reached(dollars) for account, dollars in zip(accounts, spends, strict=True)
    }
    # An admin moves a gold member down to silver and a silver member out of the tiers.
    for account, tier in ((accounts[5], "silver"), (accounts[2], "")):
        await api.stub.ChangeTier(
            pb.ChangeTierRequest(
                request_id=request_id(), account=account, tier=tier, reason_code="goodwill"
            )
        )
        tiers[account] = tier
    await wait_caught_up(database_url, "program_statistics")
    await wait_caught_up(database_url, "member_stages")

    got = await statistics(api, program_id, "")
    expected_tiers = {
        name: sum(tier == name for tier in tiers.values()) for name in ("silver", "gold")
    }
    assert {entry.tier: entry.members for entry in got.members_per_tier} == expected_tiers
    buyers = sum(dollars > 0 for dollars in spends)
    assert [(entry.stage, entry.members) for entry in got.members_per_stage] == [
        (pb.LOYALTY_STAGE_ENROLLED, len(spends) - buyers),
        (pb.LOYALTY_STAGE_COGNITIVE, buyers),
    ]

    # The buyers lapse with no event of theirs; a new member's enrolment wakes the stage view.
    clock.advance(days=DEFAULT_LAPSED_AFTER_DAYS + 1)
    await enroll(api.stub, program_id)
    await wait_caught_up(database_url, "member_stages")
    later = await statistics(api, program_id, "")
    assert [(entry.stage, entry.members) for entry in later.members_per_stage] == [
        (pb.LOYALTY_STAGE_ENROLLED, len(spends) - buyers + 1),
        (pb.LOYALTY_STAGE_LAPSED, buyers),
    ]
