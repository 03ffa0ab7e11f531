"""RecordAction: points per action, capped per day, week, month, year or lifetime in the
program's time zone; a capped action answers OK with what it gave and why."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ledger.codec import snapshots
from ledger.domain.account import AccountState
from ledger.domain.action_settings import ActionCap, CapPeriod, RewardedAction
from ledger.domain.commands import GrantBonus, RecordAction
from ledger.domain.decide import result
from ledger.domain.errors import FailedPrecondition, InvalidArgument
from ledger.domain.events import ActionRecorded, BonusGranted, Event
from ledger.domain.kinds import ACCOUNT
from ledger.domain.program import ProgramState
from ledger.domain.results import ActionResult
from ledger.domain.settings import QualifyingActivity

from .scenario import EXPIRES, PROGRAM, T0, enrolled, fields, given, then, when


def actions_program(*actions: RewardedAction, time_zone: str = "UTC") -> ProgramState:
    settings = dataclasses.replace(PROGRAM.settings, actions=actions, time_zone=time_zone)
    return dataclasses.replace(PROGRAM, revision=3, settings=settings)


REVIEWS_3_A_DAY = actions_program(
    RewardedAction("review", 50, (ActionCap(CapPeriod.DAY, max_times=3),))
)


def act(
    state: AccountState,
    program: ProgramState,
    action_id: str = "review",
    *,
    now: datetime = T0,
    reference: str = "",
) -> tuple[ActionResult, AccountState]:
    command = RecordAction(action_id, reference)
    events = when(state, command, now=now, program=program)
    answer = result(command, events)
    assert isinstance(answer, ActionResult)
    return answer, then(state, events)


def repeat(
    state: AccountState, program: ProgramState, times: int, *, now: datetime = T0
) -> tuple[list[int], AccountState]:
    given_points = []
    for _ in range(times):
        answer, state = act(state, program, now=now)
        given_points.append(answer.points)
    return given_points, state


def test_an_action_earns_its_points_and_records_the_rule_and_its_periods() -> None:
    events = when(given(enrolled()), RecordAction("review", "rev-1"), program=REVIEWS_3_A_DAY)

    assert events == [
        ActionRecorded(
            action_id="review",
            reference="rev-1",
            points=50,
            rule_points=50,
            outcome="rewarded",
            capped_by="",
            expires_on=EXPIRES,
            program_revision=3,
            day="2026-03-01",
            week="2026-W09",
            month="2026-03",
            year="2026",
        )
    ]
    assert then(given(enrolled()), events).balances.available == 50


def test_the_fourth_review_of_a_day_is_capped_with_zero_points_and_the_next_day_counts_again() -> (
    None
):
    points, state = repeat(given(enrolled()), REVIEWS_3_A_DAY, 3)
    assert points == [50, 50, 50]

    fourth, state = act(state, REVIEWS_3_A_DAY, now=T0 + timedelta(hours=11))
    assert fourth == ActionResult(0, "cap_reached", "day")
    assert state.balances.available == 150

    next_day, state = act(state, REVIEWS_3_A_DAY, now=T0 + timedelta(hours=12))
    assert next_day == ActionResult(50, "rewarded", "")
    assert state.balances.available == 200


def test_a_day_cap_counts_the_days_of_the_program_time_zone() -> None:
    # Tokyo is UTC+9: 14:59 UTC is 23:59 there, 15:00 UTC already the next day.
    tokyo = actions_program(
        RewardedAction("review", 50, (ActionCap(CapPeriod.DAY, max_times=1),)),
        time_zone="Asia/Tokyo",
    )
    before_midnight = datetime(2026, 3, 1, 14, 59, tzinfo=UTC)
    first, state = act(given(enrolled()), tokyo, now=before_midnight)
    assert first.points == 50

    same_tokyo_day, state = act(state, tokyo, now=before_midnight - timedelta(hours=5))
    assert same_tokyo_day == ActionResult(0, "cap_reached", "day")

    after_midnight, state = act(state, tokyo, now=before_midnight + timedelta(minutes=1))
    assert after_midnight == ActionResult(50, "rewarded", "")
    # In UTC both were on March 1st: counted in UTC, the third would have been capped.
    assert state.action_counts["review"].day.key == "2026-03-02"


def test_a_weekly_cap_counts_iso_weeks_from_monday() -> None:
    weekly = actions_program(
        RewardedAction("social_share", 10, (ActionCap(CapPeriod.WEEK, max_times=2),))
    )
    sunday = datetime(2026, 3, 8, 20, tzinfo=UTC)
    state: AccountState = given(enrolled())
    points = []
    for moment in (sunday - timedelta(days=6), sunday - timedelta(days=3), sunday):
        answer, state = act(state, weekly, "social_share", now=moment)
        points.append(answer.points)
    assert points == [10, 10, 0]

    monday, state = act(state, weekly, "social_share", now=sunday + timedelta(hours=5))
    assert monday == ActionResult(10, "rewarded", "")


def test_a_monthly_points_cap_gives_what_is_left_under_it_then_nothing() -> None:
    monthly = actions_program(
        RewardedAction("photo_review", 50, (ActionCap(CapPeriod.MONTH, max_points=120),))
    )
    state: AccountState = given(enrolled())
    answers = []
    for day in range(3):
        answer, state = act(state, monthly, "photo_review", now=T0 + timedelta(days=day))
        answers.append(answer)
    assert answers == [
        ActionResult(50, "rewarded", ""),
        ActionResult(50, "rewarded", ""),
        ActionResult(20, "cap_reached", "month"),
    ]
    capped, state = act(state, monthly, "photo_review", now=T0 + timedelta(days=30))
    assert capped == ActionResult(0, "cap_reached", "month")  # March 31st
    april, state = act(state, monthly, "photo_review", now=T0 + timedelta(days=31))
    assert april.points == 50
    assert state.balances.available == 170


def test_a_yearly_cap_resets_on_new_year_in_the_program_time_zone() -> None:
    birthday = actions_program(
        RewardedAction("birthday", 200, (ActionCap(CapPeriod.YEAR, max_times=1),)),
        time_zone="America/New_York",
    )
    new_years_eve_local = datetime(2027, 1, 1, 4, 59, tzinfo=UTC)  # 23:59 in New York
    first, state = act(given(enrolled()), birthday, "birthday", now=new_years_eve_local)
    again, state = act(state, birthday, "birthday", now=new_years_eve_local - timedelta(days=90))
    next_year, state = act(
        state, birthday, "birthday", now=new_years_eve_local + timedelta(minutes=1)
    )

    assert [first.points, again.points, next_year.points] == [200, 0, 200]
    assert again.capped_by == "year"


def test_a_lifetime_cap_gives_the_welcome_bonus_once() -> None:
    welcome = actions_program(
        RewardedAction("welcome", 100, (ActionCap(CapPeriod.LIFETIME, max_times=1),))
    )
    first, state = act(given(enrolled()), welcome, "welcome")
    years_later, state = act(state, welcome, "welcome", now=T0 + timedelta(days=3_000))

    assert first.points == 100
    assert years_later == ActionResult(0, "cap_reached", "lifetime")


def test_the_tightest_cap_names_the_answer_and_a_capped_action_uses_up_no_other_cap() -> None:
    both = actions_program(
        RewardedAction(
            "review",
            50,
            (
                ActionCap(CapPeriod.WEEK, max_times=5),
                ActionCap(CapPeriod.DAY, max_times=2),
            ),
        )
    )
    monday = T0 + timedelta(days=1)  # T0 is a Sunday
    points, state = repeat(given(enrolled()), both, 4, now=monday)  # 2 capped by the day
    assert points == [50, 50, 0, 0]
    assert state.action_counts["review"].week.times == 2

    points, state = repeat(state, both, 3, now=monday + timedelta(days=1))
    assert points == [50, 50, 0]
    wednesday, state = act(state, both, now=monday + timedelta(days=2))
    assert wednesday == ActionResult(50, "rewarded", "")
    thursday, state = act(state, both, now=monday + timedelta(days=3))
    assert thursday == ActionResult(0, "cap_reached", "week")


def test_an_action_worth_zero_points_is_recorded_as_not_rewarded() -> None:
    tracked = actions_program(RewardedAction("newsletter_signup", 0))

    answer, state = act(given(enrolled()), tracked, "newsletter_signup")

    assert answer == ActionResult(0, "not_rewarded", "")
    assert state.balances.available == 0


def test_an_action_the_program_does_not_define_is_refused_naming_action_id() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        when(given(enrolled()), RecordAction("video_review"), program=REVIEWS_3_A_DAY)

    assert refused.value.reason == "ACTION_NOT_DEFINED"
    assert refused.value.metadata["field"] == "action_id"


def test_a_badly_formed_action_id_and_reference_are_named_together() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), RecordAction("Review!", "x\x00"), program=REVIEWS_3_A_DAY)

    assert fields(refused.value) == ["action_id", "reference"]


def test_counters_stay_one_per_action_and_period_however_many_actions() -> None:
    daily = actions_program(RewardedAction("review", 1, (ActionCap(CapPeriod.DAY, max_times=1),)))
    state: AccountState = given(enrolled())
    for day in range(400):
        _, state = act(state, daily, now=T0 + timedelta(days=day))

    assert list(state.action_counts) == ["review"]
    assert state.action_counts["review"].lifetime.times == 400
    assert state.balances.lifetime_earned == 400


# --- GrantBonus -------------------------------------------------------------------------------


def test_a_bonus_is_its_own_kind_of_event_with_reason_note_and_actor() -> None:
    events: list[Event] = when(
        given(enrolled()),
        GrantBonus(250, "vip_surprise", "thanks for 10 years", "ops@brand"),
        program=REVIEWS_3_A_DAY,
    )

    assert events == [
        BonusGranted(250, "vip_surprise", "thanks for 10 years", "ops@brand", EXPIRES, 3)
    ]
    state = then(given(enrolled()), events)
    assert state.balances.available == 250
    assert state.balances.lifetime_earned == 250


def test_a_bonus_of_no_points_or_a_bad_reason_is_refused_naming_both() -> None:
    with pytest.raises(InvalidArgument) as refused:
        when(given(enrolled()), GrantBonus(0, "Surprise", "", "ops"))

    assert fields(refused.value) == ["points", "reason_code"]


def test_action_counters_round_trip_through_the_snapshot() -> None:
    _, state = repeat(given(enrolled()), REVIEWS_3_A_DAY, 2)

    restored = snapshots.decode(ACCOUNT, snapshots.encode(ACCOUNT, state))

    assert restored.action_counts == state.action_counts
    points, _ = repeat(restored, REVIEWS_3_A_DAY, 2)
    assert points == [50, 0]


def test_an_action_even_capped_moves_the_inactivity_deadline_when_actions_qualify() -> None:
    welcome_once = actions_program(
        RewardedAction("welcome", 100, (ActionCap(CapPeriod.LIFETIME, max_times=1),))
    )
    settings = dataclasses.replace(
        welcome_once.settings,
        inactivity_expiry_days=90,
        qualifying_activities=(QualifyingActivity.ACTION,),
    )
    program = dataclasses.replace(welcome_once, settings=settings)
    _, state = act(given(enrolled()), program, "welcome")

    capped, state = act(state, program, "welcome", now=T0 + timedelta(days=60))

    assert capped.points == 0
    # April 30th plus 90 days: the balance lasts to the end of July 29th, UTC.
    assert state.balance_expires_at == "2026-07-30T00:00:00.000000Z"
