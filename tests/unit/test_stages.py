"""Loyalty stages, given a member's signals, when time passes or a signal comes, then the
stage and its history. A fixed clock drives every test: time is only ever passed in."""

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.errors import Violations
from ledger.domain.events import ActionRecorded, FeedbackRecorded
from ledger.domain.stage_settings import StageSettings
from ledger.domain.stages import (
    MemberStage,
    Signal,
    Stage,
    StageChange,
    lapse_due,
    lapsed_by,
    observe,
    signal_of,
)

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SETTINGS = StageSettings(
    lapsed_after_days=60,
    action_purchases=3,
    action_window_days=30,
    review_action_ids=("review", "photo_review"),
)


def days(count: float) -> timedelta:
    return timedelta(days=count)


def given(*signals: tuple[Signal, datetime]) -> MemberStage:
    member = MemberStage()
    for signal, time in signals:
        member, _ = observe(member, signal, time, SETTINGS)
    return member


def when(
    member: MemberStage, signal: Signal, time: datetime
) -> tuple[MemberStage, list[StageChange]]:
    return observe(member, signal, time, SETTINGS)


def test_a_member_without_a_purchase_is_enrolled_and_never_lapses() -> None:
    member = given((Signal.PROMOTER, T0), (Signal.REDEMPTION, T0 + days(1)))

    assert member.stage is Stage.ENROLLED
    assert lapse_due(member, SETTINGS) is None
    assert lapsed_by(member, SETTINGS, T0 + days(3650)) == (member, None)


def test_a_first_purchase_makes_a_member_cognitive() -> None:
    member, changes = when(given(), Signal.PURCHASE, T0)

    assert (member.stage, member.since) == (Stage.COGNITIVE, T0)
    assert changes == [StageChange(Stage.ENROLLED, Stage.COGNITIVE, T0, by_lapse=False)]


@pytest.mark.parametrize("signal", [Signal.PROMOTER, Signal.REVIEW, Signal.REFERRAL])
def test_a_promoter_score_a_review_or_a_referral_makes_a_buyer_affective(
    signal: Signal,
) -> None:
    member, changes = when(given((Signal.PURCHASE, T0)), signal, T0 + days(2))

    assert member.stage is Stage.AFFECTIVE
    assert changes == [StageChange(Stage.COGNITIVE, Stage.AFFECTIVE, T0 + days(2), by_lapse=False)]


def test_a_sign_shown_before_the_first_purchase_counts_from_that_purchase() -> None:
    member, changes = when(given((Signal.PROMOTER, T0)), Signal.PURCHASE, T0 + days(1))

    assert member.stage is Stage.AFFECTIVE
    assert changes == [StageChange(Stage.ENROLLED, Stage.AFFECTIVE, T0 + days(1), by_lapse=False)]


@pytest.mark.parametrize("signal", [Signal.PURCHASE, Signal.REDEMPTION])
def test_a_repeat_purchase_or_a_redemption_makes_a_member_conative(signal: Signal) -> None:
    member, _ = when(given((Signal.PURCHASE, T0)), signal, T0 + days(40))

    assert member.stage is Stage.CONATIVE


def test_purchases_within_the_window_make_the_action_stage() -> None:
    member = given((Signal.PURCHASE, T0), (Signal.PURCHASE, T0 + days(10)))

    member, changes = when(member, Signal.PURCHASE, T0 + days(29))

    assert member.stage is Stage.ACTION
    assert changes == [StageChange(Stage.CONATIVE, Stage.ACTION, T0 + days(29), by_lapse=False)]


def test_purchases_spread_wider_than_the_window_stay_conative() -> None:
    member = given((Signal.PURCHASE, T0), (Signal.PURCHASE, T0 + days(20)))

    member, changes = when(member, Signal.PURCHASE, T0 + days(31))

    assert member.stage is Stage.CONATIVE
    assert changes == []


def test_a_stage_never_goes_down_but_to_lapsed() -> None:
    member = given(*((Signal.PURCHASE, T0 + days(n)) for n in range(3)))
    assert member.stage is Stage.ACTION

    # A purchase after the window emptied, before lapsing: the member keeps the action stage.
    member, changes = when(member, Signal.PURCHASE, T0 + days(50))

    assert (member.stage, changes) == (Stage.ACTION, [])


def test_time_alone_lapses_a_member_at_the_moment_it_fell_due() -> None:
    member = given((Signal.PURCHASE, T0), (Signal.REDEMPTION, T0 + days(5)))

    not_yet, nothing = lapsed_by(member, SETTINGS, T0 + days(65) - timedelta(microseconds=1))
    lapsed, change = lapsed_by(member, SETTINGS, T0 + days(400))

    assert (not_yet, nothing) == (member, None)
    assert change == StageChange(Stage.CONATIVE, Stage.LAPSED, T0 + days(65), by_lapse=True)
    assert (lapsed.stage, lapsed.since) == (Stage.LAPSED, T0 + days(65))


def test_feedback_and_reviews_do_not_keep_a_member_from_lapsing() -> None:
    member = given((Signal.PURCHASE, T0), (Signal.PROMOTER, T0 + days(50)))

    _, change = lapsed_by(member, SETTINGS, T0 + days(60))

    assert change is not None and change.time == T0 + days(60)


def test_a_signal_after_the_due_moment_records_the_lapse_first() -> None:
    member = given((Signal.PURCHASE, T0))

    member, changes = when(member, Signal.PURCHASE, T0 + days(100))

    assert changes == [
        StageChange(Stage.COGNITIVE, Stage.LAPSED, T0 + days(60), by_lapse=True),
        StageChange(Stage.LAPSED, Stage.CONATIVE, T0 + days(100), by_lapse=False),
    ]
    assert member.stage is Stage.CONATIVE


def test_a_promoter_score_does_not_bring_a_lapsed_member_back_but_is_remembered() -> None:
    lapsed, _ = lapsed_by(given((Signal.PURCHASE, T0)), SETTINGS, T0 + days(70))

    after_score, changes = when(lapsed, Signal.PROMOTER, T0 + days(80))
    back, back_changes = when(after_score, Signal.REDEMPTION, T0 + days(90))

    assert (after_score.stage, changes) == (Stage.LAPSED, [])
    assert back.stage is Stage.CONATIVE  # the redemption, and the score kept from before
    assert back_changes == [
        StageChange(Stage.LAPSED, Stage.CONATIVE, T0 + days(90), by_lapse=False)
    ]


def test_a_member_moves_through_every_stage_lapses_and_comes_back() -> None:
    """The whole story, on a fixed clock."""
    history: list[StageChange] = []
    member = MemberStage()
    story = [
        (Signal.PURCHASE, T0),  # cognitive
        (Signal.REVIEW, T0 + days(1)),  # affective
        (Signal.PURCHASE, T0 + days(10)),  # conative
        (Signal.PURCHASE, T0 + days(20)),  # action: 3 in 30 days
    ]
    for signal, time in story:
        member, changes = observe(member, signal, time, SETTINGS)
        history += changes
    member, lapse = lapsed_by(member, SETTINGS, T0 + days(81))  # 61 days quiet
    assert lapse is not None
    history.append(lapse)
    for time in (T0 + days(100), T0 + days(110), T0 + days(120)):
        member, changes = observe(member, Signal.PURCHASE, time, SETTINGS)
        history += changes

    assert [(c.from_stage, c.to_stage, c.time) for c in history] == [
        (Stage.ENROLLED, Stage.COGNITIVE, T0),
        (Stage.COGNITIVE, Stage.AFFECTIVE, T0 + days(1)),
        (Stage.AFFECTIVE, Stage.CONATIVE, T0 + days(10)),
        (Stage.CONATIVE, Stage.ACTION, T0 + days(20)),
        (Stage.ACTION, Stage.LAPSED, T0 + days(80)),
        (Stage.LAPSED, Stage.CONATIVE, T0 + days(100)),
        (Stage.CONATIVE, Stage.ACTION, T0 + days(120)),
    ]


def test_only_promoters_and_review_actions_the_program_names_are_signals() -> None:
    def action(action_id: str) -> ActionRecorded:
        return ActionRecorded(action_id, "", 0, 0, "rewarded", "", None, 1, "", "", "", "")

    assert signal_of(FeedbackRecorded(9, None, None, ""), SETTINGS) is Signal.PROMOTER
    assert signal_of(FeedbackRecorded(8, 7, 5, ""), SETTINGS) is None
    assert signal_of(FeedbackRecorded(None, 7, 5, ""), SETTINGS) is None
    assert signal_of(action("photo_review"), SETTINGS) is Signal.REVIEW
    assert signal_of(action("birthday"), SETTINGS) is None
    assert signal_of(action("review"), StageSettings()) is None


def test_senseless_stage_settings_are_refused_naming_each() -> None:
    violations = Violations()

    StageSettings(
        lapsed_after_days=0,
        action_purchases=1,
        action_window_days=0,
        review_action_ids=("Review", "ok", "ok"),
    ).validate(violations, "program")

    assert [v.field for v in violations.items] == [
        "program.stage_settings.lapsed_after_days",
        "program.stage_settings.action_purchases",
        "program.stage_settings.action_window_days",
        "program.stage_settings.review_action_ids[0]",
        "program.stage_settings.review_action_ids",
    ]


def test_an_action_window_longer_than_the_lapse_is_refused() -> None:
    violations = Violations()

    StageSettings(lapsed_after_days=30, action_window_days=31).validate(violations, "program")

    assert [v.field for v in violations.items] == ["program.stage_settings.action_window_days"]
