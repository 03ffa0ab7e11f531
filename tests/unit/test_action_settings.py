"""Action and milestone settings that make no sense are refused, each named."""

import pytest

from ledger.domain import program as program_stream
from ledger.domain.action_settings import ActionCap, CapPeriod, RewardedAction
from ledger.domain.commands import CreateProgram
from ledger.domain.errors import InvalidArgument
from ledger.domain.milestone_settings import Milestone
from ledger.domain.program import ProgramState
from ledger.domain.settings import ProgramSettings

from .scenario import fields


def refused_fields(settings: ProgramSettings) -> list[str]:
    with pytest.raises(InvalidArgument) as refused:
        program_stream.decide(ProgramState(), CreateProgram("shop", settings))
    return fields(refused.value)


def test_senseless_actions_are_refused_naming_each_setting() -> None:
    settings = ProgramSettings(
        actions=(
            RewardedAction("review", -5, (ActionCap(CapPeriod.DAY),)),
            RewardedAction("review", 10),
            RewardedAction(
                "Birthday!",
                10,
                (ActionCap(CapPeriod.YEAR, max_times=1), ActionCap(CapPeriod.YEAR, max_points=-1)),
            ),
        )
    )

    assert refused_fields(settings) == [
        "program.actions[0].points",
        "program.actions[0].caps[0]",
        "program.actions[1].action_id",
        "program.actions[2].action_id",
        "program.actions[2].caps[1].period",
        "program.actions[2].caps[1].max_points",
    ]


def test_senseless_milestones_are_refused_naming_each_setting() -> None:
    settings = ProgramSettings(
        milestones=(
            Milestone("first", 100, order_count=0),
            Milestone("first", 0, order_count=1),
            Milestone("big", 10, order_count=2, spend_currency_code="usd", spend_amount_minor=0),
        )
    )

    assert refused_fields(settings) == [
        "program.milestones[0].order_count",
        "program.milestones[1].milestone_id",
        "program.milestones[1].points",
        "program.milestones[2].order_count",
        "program.milestones[2].lifetime_spend.currency_code",
        "program.milestones[2].lifetime_spend",
    ]


def test_sensible_actions_and_milestones_are_accepted() -> None:
    settings = ProgramSettings(
        actions=(
            RewardedAction("welcome", 100, (ActionCap(CapPeriod.LIFETIME, max_times=1),)),
            RewardedAction("newsletter_signup", 0),
            RewardedAction(
                "brand_quiz",
                5,
                (ActionCap(CapPeriod.DAY, max_times=3), ActionCap(CapPeriod.WEEK, max_points=50)),
            ),
        ),
        milestones=(
            Milestone("tenth_order", 500, order_count=10),
            Milestone("spent_1000_eur", 900, spend_currency_code="EUR", spend_amount_minor=100_000),
        ),
    )

    (created,) = program_stream.decide(ProgramState(), CreateProgram("shop", settings))

    assert program_stream.evolve(ProgramState(), created).settings == settings
