"""What a program says about its members' loyalty stages (ledger/domain/stages.py): when a
member has lapsed, what makes the action stage, and which actions are reviews."""

from dataclasses import dataclass

from ledger.domain.errors import Violations
from ledger.domain.patterns import CODE_PATTERN

DEFAULT_LAPSED_AFTER_DAYS = 180
DEFAULT_ACTION_PURCHASES = 3
DEFAULT_ACTION_WINDOW_DAYS = 90
MAX_LAPSED_AFTER_DAYS = 3_650
MAX_ACTION_WINDOW_DAYS = 3_650
MIN_ACTION_PURCHASES = 2
"""The action stage is about repeat purchases: one purchase is never a repeat."""
MAX_ACTION_PURCHASES = 20
"""Also the number of purchase times the stage view keeps per member."""
MAX_REVIEW_ACTION_IDS = 20


@dataclass(frozen=True)
class StageSettings:
    lapsed_after_days: int = DEFAULT_LAPSED_AFTER_DAYS
    """A member with no purchase or redemption for this many days is lapsed."""
    action_purchases: int = DEFAULT_ACTION_PURCHASES
    action_window_days: int = DEFAULT_ACTION_WINDOW_DAYS
    """`action_purchases` purchases within `action_window_days` days make the action stage."""
    review_action_ids: tuple[str, ...] = ()
    """RecordAction ids that are reviews (the affective stage); none by default."""

    def validate(self, violations: Violations, prefix: str) -> None:
        where = f"{prefix}.stage_settings"
        if not 1 <= self.lapsed_after_days <= MAX_LAPSED_AFTER_DAYS:
            violations.add(
                f"{where}.lapsed_after_days", f"must be 1 to {MAX_LAPSED_AFTER_DAYS} days"
            )
        if not MIN_ACTION_PURCHASES <= self.action_purchases <= MAX_ACTION_PURCHASES:
            violations.add(
                f"{where}.action_purchases",
                f"must be {MIN_ACTION_PURCHASES} to {MAX_ACTION_PURCHASES} purchases",
            )
        if not 1 <= self.action_window_days <= MAX_ACTION_WINDOW_DAYS:
            violations.add(
                f"{where}.action_window_days", f"must be 1 to {MAX_ACTION_WINDOW_DAYS} days"
            )
        elif self.action_window_days > self.lapsed_after_days:
            violations.add(
                f"{where}.action_window_days",
                "must not be longer than lapsed_after_days: a member in the action stage "
                "would have lapsed before the window closed",
            )
        if len(self.review_action_ids) > MAX_REVIEW_ACTION_IDS:
            violations.add(f"{where}.review_action_ids", f"at most {MAX_REVIEW_ACTION_IDS} ids")
        for index, action_id in enumerate(self.review_action_ids):
            if not CODE_PATTERN.fullmatch(action_id):
                violations.add(
                    f"{where}.review_action_ids[{index}]", f"must match {CODE_PATTERN.pattern}"
                )
        if len(set(self.review_action_ids)) != len(self.review_action_ids):
            violations.add(f"{where}.review_action_ids", "each id once")
