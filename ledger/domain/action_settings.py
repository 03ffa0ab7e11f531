"""What a program says about the actions it rewards: each action's points and its caps.

Caps count in the program's time zone. A week is an ISO week (Monday to Sunday), a month and
a year are calendar ones, and a lifetime cap never resets. A cap may limit the number of
rewarded actions (`max_times`), the points they give (`max_points`), or both: a points cap
gives what is left under it (a review worth 50 points under a 120-point day cap gives 50, 50,
then 20), a times cap gives nothing once reached. Only rewarded actions count toward caps, so
an action one cap refused never uses up another cap.
"""

from dataclasses import dataclass
from enum import Enum

from ledger.domain import limits
from ledger.domain.errors import Violations
from ledger.domain.patterns import CODE_PATTERN


class CapPeriod(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


WELL_KNOWN_ACTION_IDS = (
    "welcome",
    "birthday",
    "review",
    "photo_review",
    "video_review",
    "social_share",
    "survey_completed",
    "newsletter_signup",
)
"""Ids storefront integrations can rely on; brands define more with the same pattern."""


@dataclass(frozen=True)
class ActionCap:
    period: CapPeriod
    max_times: int = 0
    """Rewarded actions per period; 0: no limit on the count."""
    max_points: int = 0
    """Points per period; 0: no limit on the points."""


@dataclass(frozen=True)
class RewardedAction:
    action_id: str
    points: int
    """Points each time; 0 records the action without rewarding it (ACTION_NOT_REWARDED)."""
    caps: tuple[ActionCap, ...] = ()


def validate_actions(
    actions: tuple[RewardedAction, ...], violations: Violations, prefix: str
) -> None:
    if len(actions) > limits.MAX_ACTIONS:
        violations.add(f"{prefix}.actions", f"at most {limits.MAX_ACTIONS} actions")
    seen: set[str] = set()
    for index, action in enumerate(actions):
        where = f"{prefix}.actions[{index}]"
        if not CODE_PATTERN.fullmatch(action.action_id):
            violations.add(f"{where}.action_id", f"must match {CODE_PATTERN.pattern}")
        elif action.action_id in seen:
            violations.add(f"{where}.action_id", "one entry per action id")
        seen.add(action.action_id)
        if not 0 <= action.points <= limits.MAX_ACTION_POINTS:
            violations.add(f"{where}.points", f"must be 0 to {limits.MAX_ACTION_POINTS:,}")
        _validate_caps(action.caps, violations, where)


def _validate_caps(caps: tuple[ActionCap, ...], violations: Violations, where: str) -> None:
    periods: set[CapPeriod] = set()
    for index, cap in enumerate(caps):
        at = f"{where}.caps[{index}]"
        if cap.period in periods:
            violations.add(f"{at}.period", "one cap per period")
        periods.add(cap.period)
        if cap.max_times == 0 and cap.max_points == 0:
            # A cap of zero would refuse every action: leave the action out (or give it 0
            # points) instead of capping it away.
            violations.add(at, "max_times or max_points must be more than 0")
        if not 0 <= cap.max_times <= limits.MAX_CAP_TIMES:
            violations.add(f"{at}.max_times", f"must be 0 to {limits.MAX_CAP_TIMES:,}")
        if not 0 <= cap.max_points <= limits.MAX_POINTS_PER_COMMAND:
            violations.add(f"{at}.max_points", f"must be 0 to {limits.MAX_POINTS_PER_COMMAND:,}")
