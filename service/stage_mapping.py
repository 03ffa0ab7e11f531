"""Proto messages <-> loyalty stages and their settings (ledger/domain/stages.py)."""

from datetime import datetime

from ledger.domain.stage_settings import (
    DEFAULT_ACTION_PURCHASES,
    DEFAULT_ACTION_WINDOW_DAYS,
    DEFAULT_LAPSED_AFTER_DAYS,
    StageSettings,
)
from ledger.domain.stages import Stage
from loyalty.v1 import ledger_pb2 as pb

STAGE_TO_PROTO: dict[Stage, "pb.LoyaltyStage.ValueType"] = {
    Stage.ENROLLED: pb.LOYALTY_STAGE_ENROLLED,
    Stage.COGNITIVE: pb.LOYALTY_STAGE_COGNITIVE,
    Stage.AFFECTIVE: pb.LOYALTY_STAGE_AFFECTIVE,
    Stage.CONATIVE: pb.LOYALTY_STAGE_CONATIVE,
    Stage.ACTION: pb.LOYALTY_STAGE_ACTION,
    Stage.LAPSED: pb.LOYALTY_STAGE_LAPSED,
}


def stage_settings_of(message: pb.Program) -> StageSettings:
    """The settings `message` states, 0 taking each default (checked with the program)."""
    given = message.stage_settings
    return StageSettings(
        lapsed_after_days=given.lapsed_after_days or DEFAULT_LAPSED_AFTER_DAYS,
        action_purchases=given.action_purchases or DEFAULT_ACTION_PURCHASES,
        action_window_days=given.action_window_days or DEFAULT_ACTION_WINDOW_DAYS,
        review_action_ids=tuple(given.review_action_ids),
    )


def fill_program(message: pb.Program, settings: StageSettings) -> None:
    target = message.stage_settings
    target.lapsed_after_days = settings.lapsed_after_days
    target.action_purchases = settings.action_purchases
    target.action_window_days = settings.action_window_days
    target.review_action_ids.extend(settings.review_action_ids)


def fill_stage(message: pb.Account, stage: Stage | None, stage_time: datetime | None) -> None:
    """The account's stage as the stage view holds it (nothing while it does not)."""
    if stage is None:
        return
    message.stage = STAGE_TO_PROTO[stage]
    if stage is not Stage.ENROLLED and stage_time is not None:
        message.stage_time.FromDatetime(stage_time)
