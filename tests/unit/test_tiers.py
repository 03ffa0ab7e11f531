"""Tiers over time, given events / when a command / then events: upgrades at once, downgrades
only at the review after a term and its grace, refunds counted at the review, spending never
counted, calendar years in the program's own time zone."""

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.commands import (
    ChangeTier,
    EarnPoints,
    RecordPurchase,
    RedeemPoints,
    RefundPurchase,
    Sweep,
)
from ledger.domain.decide import next_due_at
from ledger.domain.errors import FailedPrecondition, InvalidArgument, Violations
from ledger.domain.events import Event, TierChanged, TierPeriodStarted, TierSpendRefunded
from ledger.domain.frozen import replace
from ledger.domain.program import ProgramState
from ledger.domain.purchase_rules import RuleKind
from ledger.domain.settings import ProgramSettings
from ledger.domain.tier_settings import (
    Tier,
    TierBasis,
    TierDowngrade,
    TierSettings,
    TierWindow,
)
from tests.unit.scenario import PROGRAM, T0, Folded, enrolled, fields, given, then, when

SILVER = Tier("silver", 1_000, perks=("free_shipping",))
GOLD = Tier("gold", 5_000, 150, ("free_shipping", "early_access"))
PLATINUM = Tier("platinum", 10_000, 200, ("free_shipping", "early_access", "concierge"))
ROLLING = TierSettings(
    levels=(SILVER, GOLD, PLATINUM),
    window=TierWindow.ROLLING_MONTHS,
    window_months=12,
    grace_days=30,
)


def tiered(tiers: TierSettings = ROLLING, *, revision: int = 2, zone: str = "UTC") -> ProgramState:
    settings = replace(PROGRAM.settings, tiers=tiers, time_zone=zone, return_window_days=0)
    return replace(PROGRAM, revision=revision, settings=settings)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(
    state: Folded, program: ProgramState, *steps: tuple[datetime, object]
) -> tuple[Folded, list[Event]]:
    """`state` after each (time, command) in turn, and every event they appended."""
    appended: list[Event] = []
    for now, command in steps:
        events = when(state, command, now=now, program=program)  # type: ignore[arg-type]
        appended += events
        state = then(state, events)
    return state, appended


def changes(events: list[Event]) -> list[tuple[str, str, str, int]]:
    return [
        (e.from_tier, e.to_tier, e.reason, e.qualifying_figure)
        for e in events
        if isinstance(e, TierChanged)
    ]


def test_an_earn_that_reaches_a_higher_tier_upgrades_at_once_mid_term() -> None:
    program = tiered()
    state, _ = run(given(enrolled()), program, (T0, EarnPoints(1_200, "signup")))
    assert state.tier is not None and state.tier.tier == "silver"

    midterm = T0 + timedelta(days=120)
    events = when(state, EarnPoints(4_000, "review"), now=midterm, program=program)
    state = then(state, events)

    assert changes(events) == [("silver", "gold", "qualified", 5_200)]
    assert state.tier is not None
    assert state.tier.earn_multiplier_percent == 150
    assert state.tier.perks == ("free_shipping", "early_access")
    # Reached in June 2026, held through June 2027, reviewed 30 days later.
    assert state.tier.term_ends_at == "2027-07-01T00:00:00.000000Z"
    assert state.tier.review_at == "2027-07-31T00:00:00.000000Z"


def _gold_then_quiet(downgrade: TierDowngrade) -> tuple[Folded, ProgramState]:
    program = tiered(replace(ROLLING, downgrade=downgrade))
    state, _ = run(given(enrolled()), program, (T0, EarnPoints(10_500, "signup")))
    assert state.tier is not None and state.tier.tier == "platinum"
    return state, program


def test_a_member_who_no_longer_qualifies_keeps_the_tier_through_the_grace_period() -> None:
    state, program = _gold_then_quiet(TierDowngrade.ONE_TIER)
    # March 2026 reached: held through March 2027, then 30 days of grace.
    assert state.tier is not None and state.tier.review_at == "2027-05-01T00:00:00.000000Z"

    events = when(state, Sweep(), now=at("2027-04-30T23:00:00"), program=program)

    assert changes(events) == []


def test_after_the_grace_period_a_member_goes_down_one_tier_at_a_time() -> None:
    state, program = _gold_then_quiet(TierDowngrade.ONE_TIER)

    state, first = run(state, program, (at("2027-05-01T00:00:00"), Sweep()))
    assert changes(first) == [("platinum", "gold", "term_ended", 0)]
    # Stepped down in May 2027: gold through May 2028, and 30 days of grace.
    assert state.tier is not None and state.tier.review_at == "2028-07-01T00:00:00.000000Z"
    state, second = run(state, program, (at("2028-07-01T00:00:00"), Sweep()))
    state, third = run(state, program, (at("2029-08-31T00:00:00"), Sweep()))

    assert changes(second) == [("gold", "silver", "term_ended", 0)]
    assert changes(third) == [("silver", "", "term_ended", 0)]
    assert state.tier is not None and next_due_at(state) is None


def test_after_the_grace_period_a_member_can_go_straight_to_the_tier_the_figure_reaches() -> None:
    state, program = _gold_then_quiet(TierDowngrade.TO_QUALIFIED)
    # Some activity inside the last 12 months: 1,100 points, a silver figure.
    state, _ = run(state, program, (at("2027-02-10T09:00:00"), EarnPoints(1_100, "review")))

    state, events = run(state, program, (at("2027-05-01T00:00:00"), Sweep()))

    assert changes(events) == [("platinum", "silver", "term_ended", 1_100)]


def test_a_member_who_still_qualifies_at_the_review_keeps_the_tier_for_a_new_term() -> None:
    state, program = _gold_then_quiet(TierDowngrade.ONE_TIER)
    state, _ = run(state, program, (at("2027-01-10T09:00:00"), EarnPoints(10_000, "campaign")))

    state, events = run(state, program, (at("2027-05-01T00:00:00"), Sweep()))

    assert changes(events) == [("platinum", "platinum", "renewed", 10_000)]
    assert state.tier is not None and state.tier.review_at == "2028-07-01T00:00:00.000000Z"


def test_a_refund_lowers_the_figure_for_the_next_review_not_at_once() -> None:
    program = tiered(replace(ROLLING, window=TierWindow.LIFETIME, window_months=0))
    state, events = run(
        given(enrolled()),
        program,
        (T0, RecordPurchase("o-1", 300_000, "USD", 2)),
        (T0 + timedelta(days=1), RecordPurchase("o-2", 250_000, "USD", 2)),
    )
    assert changes(events)[-1] == ("silver", "gold", "qualified", 5_500)

    refund = when(
        state, RefundPurchase("o-2", 250_000, "USD"), now=T0 + timedelta(days=5), program=program
    )
    state = then(state, refund)

    assert changes(refund) == []  # still gold
    assert state.tier is not None and state.tier.tier == "gold"
    assert state.tier.figure == 3_000
    # Reached in March 2026: held through March 2027, reviewed after 30 days of grace.
    _, early = run(state, program, (at("2027-04-30T23:00:00"), Sweep()))
    _, review = run(state, program, (at("2027-05-01T00:00:00"), Sweep()))
    assert changes(early) == []
    assert changes(review) == [("gold", "silver", "term_ended", 3_000)]


def test_spending_points_never_demotes_nor_lowers_the_figure() -> None:
    program = tiered()
    state, _ = run(given(enrolled()), program, (T0, EarnPoints(5_000, "campaign")))

    state, events = run(
        state,
        program,
        (T0 + timedelta(days=2), RedeemPoints(4_000)),
        (T0 + timedelta(days=3), RedeemPoints(1_000)),
    )

    assert changes(events) == []
    assert state.balances.available == 0
    assert state.tier is not None and (state.tier.tier, state.tier.figure) == ("gold", 5_000)


AUCKLAND = TierSettings(levels=(SILVER, GOLD), window=TierWindow.CALENDAR_YEAR, grace_days=14)


def test_a_calendar_year_ends_at_midnight_in_the_programs_zone_not_in_utc() -> None:
    program = tiered(AUCKLAND, zone="Pacific/Auckland")
    # 10:30 UTC on 31 December is 23:30 in Auckland (UTC+13): still 2026 there.
    before_midnight = at("2026-12-31T10:30:00")
    after_midnight = at("2026-12-31T11:30:00")  # 00:30 on 1 January 2027 in Auckland
    state, _ = run(given(enrolled()), program, (at("2026-06-01T00:00:00"), EarnPoints(900, "a")))

    late, in_2026 = run(state, program, (before_midnight, EarnPoints(200, "b")))
    early, in_2027 = run(state, program, (after_midnight, EarnPoints(200, "b")))

    assert changes(in_2026) == [("", "silver", "qualified", 1_100)]
    # Reached on 2026's figure: held through 2027, to midnight of 1 January 2028 in Auckland.
    assert late.tier is not None and late.tier.term_ends_at == "2027-12-31T11:00:00.000000Z"
    assert late.tier.review_at == "2028-01-14T11:00:00.000000Z"
    started = [e for e in in_2027 if isinstance(e, TierPeriodStarted)]
    assert [e.period for e in started] == ["2027"]
    assert changes(in_2027) == []  # 2027's figure is 200: the 900 stayed in 2026
    assert early.tier is not None and early.tier.figure == 200


def test_the_review_after_new_year_takes_the_better_of_the_year_just_ended_and_this_one() -> None:
    program = tiered(AUCKLAND, zone="Pacific/Auckland")
    state, _ = run(
        given(enrolled()),
        program,
        (at("2026-02-01T00:00:00"), EarnPoints(5_000, "a")),  # gold on 2026's figure
        (at("2027-11-01T00:00:00"), EarnPoints(1_500, "b")),  # 2027: a silver year
    )
    assert state.tier is not None and state.tier.review_at == "2028-01-14T11:00:00.000000Z"

    state, events = run(state, program, (at("2028-01-14T11:00:00"), Sweep()))

    assert changes(events) == [("gold", "silver", "term_ended", 1_500)]
    # Stepped down on 2027's figure: silver through 2028.
    assert state.tier is not None and state.tier.term_ends_at == "2028-12-31T11:00:00.000000Z"


def test_a_tier_multiplier_gives_purchase_points_as_a_rule_of_its_own() -> None:
    program = tiered()
    state, _ = run(given(enrolled()), program, (T0, EarnPoints(5_000, "campaign")))

    events = when(state, RecordPurchase("o-1", 10_001, "USD", 2), now=T0, program=program)

    (recorded,) = [e for e in events if e.event_type == "PurchaseRecorded"]
    assert recorded.points == 150  # type: ignore[attr-defined]
    rules = [(r.rule_id, r.kind, r.points) for r in recorded.rules]  # type: ignore[attr-defined]
    assert rules == [
        ("earn_rate:USD", RuleKind.EARN_RATE, 100),
        ("tier:gold", RuleKind.TIER_MULTIPLIER, 50),
    ]


def test_qualifying_spend_counts_purchases_in_its_currency_less_their_refunds() -> None:
    spend = TierSettings(
        levels=(Tier("silver", 100_000), Tier("gold", 500_000)),
        basis=TierBasis.QUALIFYING_SPEND,
        spend_currency_code="USD",
        window=TierWindow.LIFETIME,
    )
    program = tiered(spend)
    state, events = run(
        given(enrolled()),
        program,
        (T0, RecordPurchase("o-1", 120_000, "USD", 2)),
        (T0, RecordPurchase("o-2", 900_000, "JPY", 0)),  # another currency: not counted
        (T0 + timedelta(days=1), RefundPurchase("o-1", 30_000, "USD")),
    )

    assert changes(events) == [("", "silver", "qualified", 120_000)]
    assert [e for e in events if isinstance(e, TierSpendRefunded)] == [
        TierSpendRefunded("o-1", 30_000, "USD")
    ]
    assert state.tier is not None and state.tier.figure == 90_000


def test_an_admin_changes_a_tier_with_reason_and_actor() -> None:
    program = tiered()
    state = given(enrolled())

    events = when(
        state, ChangeTier("gold", "goodwill", "VIP complaint", "admin:7"), now=T0, program=program
    )

    (changed,) = [e for e in events if isinstance(e, TierChanged)]
    assert (changed.from_tier, changed.to_tier, changed.reason) == ("", "gold", "manual")
    assert (changed.actor, changed.reason_code, changed.note) == (
        "admin:7",
        "goodwill",
        "VIP complaint",
    )
    assert changed.term_ends_at == "2027-04-01T00:00:00.000000Z"


def test_a_manual_change_names_the_tier_at_fault() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), ChangeTier("diamond", "goodwill", "", "a"), program=tiered())
    assert fields(refused.value) == ["tier"]
    with pytest.raises(FailedPrecondition):
        when(given(enrolled()), ChangeTier("gold", "goodwill", "", "a"))


def test_a_change_of_the_programs_tiers_applies_at_the_members_next_command() -> None:
    state, _ = run(given(enrolled()), tiered(), (T0, EarnPoints(4_000, "campaign")))
    cheaper_gold = replace(ROLLING, levels=(SILVER, replace(GOLD, threshold=3_000), PLATINUM))

    events = when(
        state,
        EarnPoints(1, "x"),
        now=T0 + timedelta(days=3),
        program=tiered(cheaper_gold, revision=3),
    )

    assert changes(events) == [("silver", "gold", "program_changed", 4_000)]


def test_a_program_without_tiers_appends_no_tier_event_and_keeps_no_tier_state() -> None:
    state = given(enrolled())

    events = when(state, RecordPurchase("o-1", 10_000, "USD", 2), program=PROGRAM)

    assert [e.event_type for e in events] == ["PurchaseRecorded"]
    assert then(state, events).tier is None


def test_tier_settings_that_make_no_sense_are_refused_naming_each_setting() -> None:
    bad = TierSettings(
        levels=(
            Tier("gold", 5_000),
            Tier("", 6_000),
            Tier("silver", 1_000),  # lower than the tier before it
            Tier("gold", 9_000, 50),  # a second gold, and a multiplier below 100%
        ),
        window=TierWindow.ROLLING_MONTHS,
        window_months=1,
        grace_days=60,  # longer than a one-month term
    )
    violations = Violations()

    ProgramSettings(tiers=bad).validate(violations)

    assert [v.field for v in violations.items] == [
        "program.tiers.levels[1].name",
        "program.tiers.levels[2].threshold",
        "program.tiers.levels[3].name",
        "program.tiers.levels[3].earn_multiplier_percent",
        "program.tiers.grace_days",
    ]


def test_a_spend_basis_needs_its_currency_and_a_calendar_year_takes_no_months() -> None:
    bad = TierSettings(levels=(SILVER,), basis=TierBasis.QUALIFYING_SPEND, window_months=6)
    violations = Violations()

    ProgramSettings(tiers=bad).validate(violations)

    assert [v.field for v in violations.items] == [
        "program.tiers.spend_currency_code",
        "program.tiers.window_months",
    ]


def test_a_rolling_window_keeps_one_figure_per_month_of_the_window_whatever_the_history() -> None:
    program = tiered(replace(ROLLING, window_months=3, grace_days=10))
    state = given(enrolled())

    for week in range(104):  # two years of weekly earns
        state, _ = run(state, program, (T0 + timedelta(weeks=week), EarnPoints(10, "weekly")))

    assert state.tier is not None
    assert len(state.tier.figures) <= 3
    assert state.tier.figure == sum(f.figure for f in state.tier.figures) > 0
